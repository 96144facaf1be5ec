"""Redirect rules of a link: what may be stored (validation) and which rule a request meets (evaluation).

A link's ``rules`` is an ordered list of ``{"conditions": {...}, "destination": URL}``. Every condition
of a rule must hold; the first rule that holds sends the visitor to its destination; when none holds,
the link's own destination is used. Rules apply only while the link is live: a disabled or expired
link goes to its campaign's fallback (or answers 410) whatever its rules say.

Conditions (at least one per rule, nothing else):

``device``
    One of, or a list of, ``ios``, ``android``, ``mobile``, ``desktop``, ``windows``, ``macos``,
    ``linux``; holds when the visitor's device has any of them (:func:`device_tags`).
``language``
    A list of primary language tags (2-3 letters, ``["nb", "no", "nn"]``); holds when the primary tag
    of the browser's most preferred language is one of them (:func:`preferred_language`).
``country``
    A list of ISO 3166-1 alpha-2 codes (stored in upper case); holds when the country the redirect
    located the visitor's address in (``tracker/geo``) is one of them. An unknown country matches none.
``query``
    An object ``{"param": "value"}`` of the short link's own query string (``/r/abc?src=flyer``); every
    pair must hold; a value of ``null`` holds when the parameter is present with any value. Names and
    values are compared exactly (case-sensitive) after percent-decoding.

Limits: at most :data:`MAX_RULES` rules per link, :data:`MAX_LIST` values per list and
:data:`MAX_QUERY` query pairs per rule. :func:`validate_rules` names the field path of every error,
e.g. ``rules[2].conditions.device`` or ``rules[0].destination``.

Evaluation is on the redirect's hot path and never parses the User-Agent with ``user-agents`` (too
slow per request; the click drain does that later). Rules are compiled once per cache fill
(:func:`compile_rule`: frozensets and tuples), and each request's device, language and query are
worked out at most once and only when a rule of the link asks for them (:func:`select_rule`).
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from tracker.errors import ValidationError
from tracker.geo.lookup import normal_country
from tracker.links.urls import validate_url

__all__ = ["CONDITIONS", "DEVICES", "MAX_LIST", "MAX_QUERY", "MAX_RULES", "CompiledRule", "compile_rule",
           "device_tags", "preferred_language", "rules_from_text", "select_rule", "validate_rules"]

DEVICES = ("ios", "android", "mobile", "desktop", "windows", "macos", "linux")
CONDITIONS = ("device", "language", "country", "query")
MAX_RULES = 20  # per link: a flyer needs a handful; 20 keeps the per-request cost small and bounded
MAX_LIST = 50  # languages or countries per rule
MAX_QUERY = 20  # query parameters per rule
MAX_QUERY_NAME = 100
MAX_QUERY_VALUE = 500
MAX_LANGUAGE_HEADER = 1000  # longer Accept-Language headers are read but not cached
_LANGUAGE_ENTRIES = 50  # entries of Accept-Language looked at


# ---- validation ---------------------------------------------------------------------------------

def rules_from_text(text: str, field: str = "rules") -> Any:
    """Parse rules written as JSON text (bulk CSV's ``rules`` column, the CLI's ``--rules``, a page form).

    Raises ValidationError naming ``field`` when ``text`` is not JSON.
    """
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{field} must be JSON: a list of {{\"conditions\": {{...}}, \"destination\": URL}} "
                              f"({exc})", field) from None


def _strings(value: Any, path: str, what: str) -> list[str]:
    """A string or a list of strings (trimmed, duplicates dropped, order kept); never empty."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValidationError(f"{path} must be a list of {what}", path)
    out = list(dict.fromkeys(item.strip() for item in items))
    if not out:
        raise ValidationError(f"{path} is empty: give at least one of {what}, or leave the condition out", path)
    if len(out) > MAX_LIST:
        raise ValidationError(f"{path} lists more than {MAX_LIST} values", path)
    return out


def _devices(value: Any, path: str) -> list[str]:
    devices = [d.lower() for d in _strings(value, path, "devices")]
    bad = [d for d in devices if d not in DEVICES]
    if bad:
        raise ValidationError(f"{path}: unknown device {bad[0]!r}; use one or more of {', '.join(DEVICES)}", path)
    return list(dict.fromkeys(devices))


def _languages(value: Any, path: str) -> list[str]:
    languages = [tag.lower() for tag in _strings(value, path, "language tags")]
    for tag in languages:
        if not (2 <= len(tag) <= 3 and tag.isascii() and tag.isalpha()):
            hint = f" (use its primary tag, {tag.split('-')[0]!r})" if "-" in tag else ""
            raise ValidationError(f"{path}: {tag!r} is not a primary language tag of 2-3 letters such as "
                                  f"'nb' or 'en'{hint}", path)
    return list(dict.fromkeys(languages))


def _countries(value: Any, path: str) -> list[str]:
    out = []
    for code in _strings(value, path, "country codes"):
        country = normal_country(code)
        if country is None:
            raise ValidationError(f"{path}: {code!r} is not an ISO 3166-1 alpha-2 country code such as 'NO'", path)
        out.append(country)
    return list(dict.fromkeys(out))


def _query(value: Any, path: str) -> dict[str, str | None]:
    if not isinstance(value, Mapping) or not value:
        raise ValidationError(f"{path} must be an object of at least one \"param\": \"value\" pair (null: any "
                              "value)", path)
    if len(value) > MAX_QUERY:
        raise ValidationError(f"{path} has more than {MAX_QUERY} parameters", path)
    out: dict[str, str | None] = {}
    for name, expected in value.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_QUERY_NAME or not name.isprintable():
            raise ValidationError(f"{path}: parameter names are 1-{MAX_QUERY_NAME} printable characters", path)
        if expected is not None and (not isinstance(expected, str) or len(expected) > MAX_QUERY_VALUE
                                     or not expected.isprintable()):
            raise ValidationError(f"{path}.{name} must be a string of at most {MAX_QUERY_VALUE} printable "
                                  "characters, or null for any value", path)
        out[name.strip()] = expected
    return out


_CHECKS = {"device": _devices, "language": _languages, "country": _countries, "query": _query}


def validate_rules(value: Any, destination_domains: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Return ``value`` as the rules to store, or raise ValidationError naming the field path.

    Parameters
    ----------
    value:
        A list of ``{"conditions": {...}, "destination": URL}``; JSON text of one (CSV, CLI, pages);
        ``None`` or ``""`` for no rules.
    destination_domains:
        The setting of that name: rule destinations pass the same checks as a link's destination.

    Returns
    -------
    list of dict
        Each rule as stored: ``device``, ``language`` and ``country`` as lists (languages lower-case,
        countries upper-case, duplicates dropped), the destination in its canonical form.

    Raises
    ------
    ValidationError
        Names the path of what is wrong: ``rules``, ``rules[2].conditions.device``, ``rules[0].destination``.

    Examples
    --------
    >>> validate_rules([{"conditions": {"device": "ios", "country": ["no"]},
    ...                  "destination": "https://apps.apple.com/app/id1"}])
    [{'conditions': {'device': ['ios'], 'country': ['NO']}, 'destination': 'https://apps.apple.com/app/id1'}]
    >>> validate_rules([{"conditions": {"device": "tv"}, "destination": "https://example.com/"}])
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: rules[0].conditions.device: unknown device 'tv'; use one or more of ios, \
android, mobile, desktop, windows, macos, linux
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = rules_from_text(value)
    if not isinstance(value, list):
        raise ValidationError("rules must be a list of {\"conditions\": {...}, \"destination\": URL}", "rules")
    if len(value) > MAX_RULES:
        raise ValidationError(f"rules: at most {MAX_RULES} rules per link", "rules")
    out = []
    for i, rule in enumerate(value):
        path = f"rules[{i}]"
        if not isinstance(rule, Mapping):
            raise ValidationError(f"{path} must be an object with conditions and destination", path)
        extra = sorted(str(k) for k in rule if k not in ("conditions", "destination"))
        if extra:
            raise ValidationError(f"{path}.{extra[0]}: unknown field; a rule has conditions and destination",
                                  f"{path}.{extra[0]}")
        conditions = rule.get("conditions")
        if not isinstance(conditions, Mapping) or not conditions:
            raise ValidationError(f"{path}.conditions needs at least one of {', '.join(CONDITIONS)}",
                                  f"{path}.conditions")
        stored: dict[str, Any] = {}
        for name, condition in conditions.items():
            check = _CHECKS.get(name)
            if check is None:
                raise ValidationError(f"{path}.conditions.{name}: unknown condition; use {', '.join(CONDITIONS)}",
                                      f"{path}.conditions.{name}")
            stored[name] = check(condition, f"{path}.conditions.{name}")
        destination = validate_url(rule.get("destination"), f"{path}.destination", destination_domains)
        out.append({"conditions": stored, "destination": destination})
    return out


# ---- what a request is --------------------------------------------------------------------------

_NONE: frozenset[str] = frozenset()
_IOS = frozenset({"ios", "mobile"})
_ANDROID = frozenset({"android", "mobile"})
_DESKTOP_OS = {os: (frozenset({os, "desktop"}), frozenset({os, "mobile"})) for os in ("windows", "macos", "linux")}
_OTHER_DESKTOP = frozenset({"desktop"})
_OTHER_MOBILE = frozenset({"mobile"})


@lru_cache(maxsize=4096)
def device_tags(user_agent: str | None) -> frozenset[str]:
    """The device tags of a User-Agent, by a few substring tests (case-sensitive, as agents write them).

    - ``iPhone``, ``iPad`` or ``iPod``: ``ios`` and ``mobile``. Tablets count as ``mobile`` (handheld,
      with an app store), never as ``desktop``. An iPad asking for the desktop site sends a Mac's agent
      and counts as ``macos``/``desktop``, as ``user-agents`` says too.
    - ``Android``: ``android`` and ``mobile`` (phones and tablets alike).
    - Otherwise the operating system: ``Windows`` -> ``windows``; ``Macintosh`` or ``Mac OS X`` ->
      ``macos``; ``Linux`` -> ``linux``; and ``mobile`` when the agent has ``Mobi`` (MDN's advice:
      ``Mobile``, ``IEMobile``, ``Opera Mobi``), else ``desktop`` when it named a desktop system (one of
      those three, ``CrOS`` for ChromeOS, or ``X11``).
    - No agent, or one naming no system (most bots and scripts: ``curl/8``, ``Googlebot/2.1``): no tag,
      so no device condition holds and such visitors go on to the other rules or the default.

    Every visitor with a tag is exactly one of ``mobile`` and ``desktop``. ``tests/rules`` compares this
    with ``user_agents.parse`` (what the click drain stores) on real agents and lists where they differ.

    Examples
    --------
    >>> sorted(device_tags("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15"))
    ['ios', 'mobile']
    >>> sorted(device_tags("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"))
    ['desktop', 'linux']
    """
    if not user_agent:
        return _NONE
    if "iPhone" in user_agent or "iPad" in user_agent or "iPod" in user_agent:
        return _IOS
    if "Android" in user_agent:
        return _ANDROID
    mobile = "Mobi" in user_agent
    if "Windows" in user_agent:
        return _DESKTOP_OS["windows"][mobile]
    if "Macintosh" in user_agent or "Mac OS X" in user_agent:
        return _DESKTOP_OS["macos"][mobile]
    if "Linux" in user_agent:
        return _DESKTOP_OS["linux"][mobile]
    if mobile:
        return _OTHER_MOBILE
    if "CrOS" in user_agent or "X11" in user_agent:
        return _OTHER_DESKTOP
    return _NONE


def _quality(params: str) -> float | None:
    """The ``q`` of an Accept-Language entry's parameters (1 when absent); None when it is not 0-1."""
    q = 1.0
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                return None
            if not 0.0 <= q <= 1.0:  # NaN fails too
                return None
    return q


def _preferred_language(header: str) -> str | None:
    best, best_q = None, 0.0
    for entry in header.split(",", _LANGUAGE_ENTRIES)[:_LANGUAGE_ENTRIES]:
        tag, _, params = entry.partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        q = _quality(params) if params else 1.0
        if q is None or q <= best_q:  # q=0 ("not this one") never wins; the first of equals does
            continue
        primary = tag.split("-", 1)[0].split("_", 1)[0].lower()
        if 2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha():
            best, best_q = primary, q
            if q == 1.0:
                break  # nothing later can be preferred over it
    return best


_cached_language = lru_cache(maxsize=4096)(_preferred_language)


def preferred_language(header: str | None) -> str | None:
    """The primary tag of the browser's most preferred language in an ``Accept-Language`` header.

    The entry with the highest ``q`` (default 1) wins, the first one of equals; ``*``, ``q=0`` and
    entries that are not language tags (a primary tag of 2-3 letters; ``en_US`` is read as ``en-US``)
    are ignored. Only the first 50 entries are read. A header that cannot be read gives ``None`` (no
    language: no language condition holds); it never raises.

    Examples
    --------
    >>> preferred_language("nb-NO,nb;q=0.9,en-US;q=0.6,en;q=0.5")
    'nb'
    >>> preferred_language("en;q=0.5, sv;q=0.8, *;q=0.9, de;q=0")
    'sv'
    >>> preferred_language("!!; q=banana") is None
    True
    """
    if not header:
        return None
    if len(header) > MAX_LANGUAGE_HEADER:
        return _preferred_language(header)
    return _cached_language(header)


_NO_QUERY: dict[str, set[str]] = {}


def _query_values(query_string: str) -> dict[str, set[str]]:
    if not query_string:
        return _NO_QUERY  # most short links are followed without one
    values: dict[str, set[str]] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        values.setdefault(name, set()).add(value)
    return values


# ---- compiled rules and selection ---------------------------------------------------------------

@dataclass(frozen=True)
class CompiledRule:
    """One rule as the redirect uses it: conditions as sets and tuples (None: no such condition), and
    its locations, made like the link's own (destination + the link's UTM tags and extra parameters,
    split around the click id; ``tracked_location`` without one, for HEAD and DNT/GPC)."""

    devices: frozenset[str] | None
    languages: frozenset[str] | None
    countries: frozenset[str] | None
    query: tuple[tuple[str, str | None], ...] | None
    location_before_tid: str
    location_after_tid: str
    tracked_location: str
    # (countries, devices, languages, query): the conditions in the order select_rule tests them, unpacked
    # at once there (one tuple unpacking costs less than four attribute reads per rule).
    test: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", (self.countries, self.devices, self.languages, self.query))

    def conditions(self) -> dict[str, Any]:
        """The conditions in their stored form (for the last-known-links file)."""
        out: dict[str, Any] = {}
        if self.devices is not None:
            out["device"] = sorted(self.devices)
        if self.languages is not None:
            out["language"] = sorted(self.languages)
        if self.countries is not None:
            out["country"] = sorted(self.countries)
        if self.query is not None:
            out["query"] = dict(self.query)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"conditions": self.conditions(), "location_before_tid": self.location_before_tid,
                "location_after_tid": self.location_after_tid, "tracked_location": self.tracked_location}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompiledRule:
        return compile_rule(data["conditions"], data["location_before_tid"], data["location_after_tid"],
                            data["tracked_location"])


def compile_rule(conditions: Mapping[str, Any], before_tid: str, after_tid: str, tracked: str) -> CompiledRule:
    """Compile stored conditions (see :func:`validate_rules`) with the rule's prepared locations."""
    def members(name: str) -> frozenset[str] | None:
        raw = conditions.get(name)
        if raw is None:
            return None
        return frozenset([raw] if isinstance(raw, str) else raw)

    query = conditions.get("query")
    return CompiledRule(devices=members("device"), languages=members("language"), countries=members("country"),
                        query=tuple(query.items()) if query is not None else None,
                        location_before_tid=before_tid, location_after_tid=after_tid, tracked_location=tracked)


_UNSET: Any = object()


def select_rule(rules: Sequence[CompiledRule], environ: Mapping[str, Any], country: str | None) -> int:
    """The index of the first rule whose conditions all hold for this request, or -1 (the default).

    ``country`` is where the redirect located the client (None: unknown). The device, language and
    query of the request are worked out only if a rule asks, and once.
    """
    device = language = query = _UNSET
    for index, rule in enumerate(rules):
        countries, devices, languages, pairs = rule.test
        if countries is not None and country not in countries:  # the cheapest test first: no parsing
            continue
        if devices is not None:
            if device is _UNSET:
                device = device_tags((environ.get("HTTP_USER_AGENT") or "")[:1000])
            if devices.isdisjoint(device):
                continue
        if languages is not None:
            if language is _UNSET:
                language = preferred_language(environ.get("HTTP_ACCEPT_LANGUAGE"))
            if language not in languages:
                continue
        if pairs is not None:
            if query is _UNSET:
                query = _query_values(environ.get("QUERY_STRING") or "")
            for name, expected in pairs:
                values = query.get(name)
                if values is None or (expected is not None and expected not in values):
                    break
            else:
                return index
            continue
        return index
    return -1
