"""The rule model without a database: validation (every condition, every refusal naming its path), the device
classifier against ``user_agents`` on real agents, Accept-Language preference, and rule selection."""
from __future__ import annotations

from typing import Any

import pytest
from user_agents import parse as parse_ua

from tracker.errors import ValidationError
from tracker.redirects.rules import (
    DEVICES,
    MAX_LIST,
    MAX_QUERY,
    MAX_RULES,
    compile_rule,
    device_tags,
    preferred_language,
    select_rule,
    validate_rules,
)

APP_STORE = "https://apps.apple.com/no/app/id123"


def rule(destination: str = APP_STORE, **conditions: Any) -> dict[str, Any]:
    return {"conditions": conditions, "destination": destination}


# ---- validation ---------------------------------------------------------------------------------

def test_each_condition_is_stored_in_its_canonical_form() -> None:
    stored = validate_rules([
        rule(device="iOS"),
        rule("https://play.google.com/store/apps/details?id=no.app", device=["android", "Android", "mobile"]),
        rule("https://example.com/nb", language=["NB", "no", " nn "]),
        rule("https://example.com/se", country=["se", "DK", "se"]),
        rule("https://example.com/flyer", query={"src": "flyer", "ref": None}),
        rule("https://Example.com/søk", device="desktop", language="en", country="no", query={"a": ""}),
    ])
    assert [r["conditions"] for r in stored] == [
        {"device": ["ios"]},
        {"device": ["android", "mobile"]},
        {"language": ["nb", "no", "nn"]},
        {"country": ["SE", "DK"]},
        {"query": {"src": "flyer", "ref": None}},
        {"device": ["desktop"], "language": ["en"], "country": ["NO"], "query": {"a": ""}},
    ]
    assert stored[-1]["destination"] == "https://example.com/s%C3%B8k"  # the same canonical form as a link's


def test_no_rules_in_any_spelling_is_an_empty_list() -> None:
    assert validate_rules(None) == validate_rules("") == validate_rules([]) == validate_rules("[]") == []


def test_json_text_is_read() -> None:
    assert validate_rules('[{"conditions": {"device": "ios"}, "destination": "https://example.com/"}]') == [
        {"conditions": {"device": ["ios"]}, "destination": "https://example.com/"}]


BAD = [
    ("not json", "rules", "must be JSON"),
    ({"conditions": {}}, "rules", "must be a list"),
    ([rule()] * (MAX_RULES + 1), "rules", f"at most {MAX_RULES} rules"),
    (["https://example.com/"], "rules[0]", "must be an object"),
    ([rule(device="ios"), {"conditions": {"device": "ios"}, "destination": APP_STORE, "name": "x"}], "rules[1].name",
     "unknown field"),
    ([rule()], "rules[0].conditions", "needs at least one"),
    ([{"destination": APP_STORE}], "rules[0].conditions", "needs at least one"),
    ([{"conditions": ["device"], "destination": APP_STORE}], "rules[0].conditions", "needs at least one"),
    ([rule(device="ios"), rule(weekday="monday")], "rules[1].conditions.weekday", "unknown condition"),
    ([rule(device="ios"), rule(device="ios"), rule(device="tv")], "rules[2].conditions.device", "unknown device 'tv'"),
    ([rule(device=[])], "rules[0].conditions.device", "is empty"),
    ([rule(device=["ios", 3])], "rules[0].conditions.device", "must be a list of devices"),
    ([rule(device={"ios": True})], "rules[0].conditions.device", "must be a list of devices"),
    ([rule(language=["nb-NO"])], "rules[0].conditions.language", "use its primary tag, 'nb'"),
    ([rule(language=["n"])], "rules[0].conditions.language", "not a primary language tag"),
    ([rule(language=["norsk"])], "rules[0].conditions.language", "not a primary language tag"),
    ([rule(language=["*"])], "rules[0].conditions.language", "not a primary language tag"),
    ([rule(language=[f"a{i:02d}"[:3] for i in range(MAX_LIST + 1)])], "rules[0].conditions.language", "more than"),
    ([rule(country=["XX"])], "rules[0].conditions.country", "'XX' is not an ISO 3166-1"),
    ([rule(country=["NOR"])], "rules[0].conditions.country", "is not an ISO 3166-1"),
    ([rule(country=["EU"])], "rules[0].conditions.country", "is not an ISO 3166-1"),
    ([rule(country=[""])], "rules[0].conditions.country", "is not an ISO 3166-1"),
    ([rule(query={})], "rules[0].conditions.query", "at least one"),
    ([rule(query="src=flyer")], "rules[0].conditions.query", "must be an object"),
    ([rule(query={"src": 3})], "rules[0].conditions.query", "query.src must be a string"),
    ([rule(query={" ": "x"})], "rules[0].conditions.query", "parameter names"),
    ([rule(query={"a\x00": "x"})], "rules[0].conditions.query", "parameter names"),
    ([rule(query={f"p{i}": None for i in range(MAX_QUERY + 1)})], "rules[0].conditions.query", "more than"),
    ([rule(None, device="ios")], "rules[0].destination", "is required"),
    ([rule("javascript:alert(1)", device="ios")], "rules[0].destination", "must start with http"),
    ([rule(device="ios"), rule("https://user@evil.example/", device="ios")], "rules[1].destination",
     "user name or password"),
]


@pytest.mark.parametrize(("value", "field", "message"), BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_rules_name_their_path(value: Any, field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_rules(value)
    assert caught.value.field == field
    assert message in caught.value.message


def test_rule_destinations_obey_destination_domains() -> None:
    ok = validate_rules([rule("https://shop.example.com/x", device="ios")], ("example.com",))
    assert ok[0]["destination"] == "https://shop.example.com/x"
    with pytest.raises(ValidationError) as caught:
        validate_rules([rule("https://evil.example/x", device="ios")], ("example.com",))
    assert caught.value.field == "rules[0].destination" and "allowed destination domains" in caught.value.message


# ---- the device classifier against user_agents --------------------------------------------------

# Real agents: what phones, tablets and desktop browsers sent in 2024, plus in-app browsers and bots.
CORPUS = {
    "iphone_safari": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                     "Version/17.4 Mobile/15E148 Safari/604.1",
    "iphone_chrome": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                     "CriOS/125.0.6422.80 Mobile/15E148 Safari/604.1",
    "iphone_instagram": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                        "Gecko) Mobile/21E236 Instagram 330.0.3.29.91 (iPhone14,5; iOS 17_4_1; nb_NO; nb; scale=3.00; "
                        "1170x2532; 598623040)",
    "ipad_safari": "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                   "Version/16.6 Mobile/15E148 Safari/604.1",
    "ipod": "Mozilla/5.0 (iPod touch; CPU iPhone OS 15_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/15.6 Mobile/15E148 Safari/604.1",
    "ipados_desktop_mode": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                           "Version/17.4 Safari/605.1.15",
    "android_chrome_phone": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                            "Chrome/124.0.6367.113 Mobile Safari/537.36",
    "android_chrome_reduced": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                              "Chrome/124.0.0.0 Mobile Safari/537.36",
    "android_chrome_tablet": "Mozilla/5.0 (Linux; Android 13; SM-X706B) AppleWebKit/537.36 (KHTML, like Gecko) "
                             "Chrome/124.0.0.0 Safari/537.36",
    "samsung_browser_phone": "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
                             "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "samsung_browser_tablet": "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X810) AppleWebKit/537.36 (KHTML, like Gecko) "
                              "SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36",
    "android_firefox_phone": "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
    "android_firefox_tablet": "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
    "android_facebook_webview": "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) "
                                "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/123.0.6312.118 Mobile "
                                "Safari/537.36 [FB_IAB/FB4A;FBAV/459.0.0.32.111;]",
    "kindle_silk": "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/123.3.1 like "
                   "Chrome/123.0.6312.118 Safari/537.36",
    "windows_chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/124.0.0.0 Safari/537.36",
    "windows_edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "windows_firefox": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "macos_safari": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Version/17.4.1 Safari/605.1.15",
    "macos_chrome": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/124.0.0.0 Safari/537.36",
    "macos_firefox": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
    "linux_firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "ubuntu_firefox": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "linux_chrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
                    "Safari/537.36",
    "chromeos": "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
                "Safari/537.36",
    "windows_phone": "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
    "opera_mini_symbian": "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) "
                          "Presto/2.5.25 Version/10.54",
    "kaios": "Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) Gecko/48.0 "
             "Firefox/48.0 KAIOS/2.5",
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "googlebot_smartphone": "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
                            "Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
                            "+http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "applebot": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "slackbot": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebook_preview": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "whatsapp": "WhatsApp/2.23.20.0",
    "curl": "curl/8.5.0",
    "empty": "",
}

LINUX_FAMILIES = {"Linux", "Ubuntu", "Fedora", "Debian"}


def reference_tags(agent: str) -> frozenset[str]:
    """The same tags read from ``user_agents.parse`` (what the drain stores): tablets count as mobile, as in
    the classifier; desktop is user_agents' ``is_pc``."""
    ua = parse_ua(agent)
    family = ua.os.family
    tags = set()
    if family == "iOS":
        tags.add("ios")
    elif family == "Android":
        tags.add("android")
    elif family.startswith("Windows"):
        tags.add("windows")
    elif family == "Mac OS X":
        tags.add("macos")
    elif family in LINUX_FAMILIES:
        tags.add("linux")
    if ua.is_mobile or ua.is_tablet:
        tags.add("mobile")
    elif ua.is_pc:
        tags.add("desktop")
    return frozenset(tags)


# Where the two disagree, and why. Everything else in the corpus must agree exactly.
DIFFERENCES = {
    # user_agents names the OS "Windows Phone"; the agent also says Android, and the classifier looks for that first.
    "windows_phone": ({"android", "mobile"}, {"windows", "mobile"}),
    # KaiOS feature phones say "Mobile" and "Android": mobile Android here; user_agents knows KaiOS, not mobile.
    "kaios": ({"android", "mobile"}, set()),
}
# Agreements worth knowing: an iPad asking for the desktop site is macOS/desktop in both; bots that name a
# platform (Googlebot's smartphone agent: Android, mobile) get its tags in both, those naming none get none.


def test_device_tags_agree_with_user_agents_except_where_listed() -> None:
    disagree = {}
    for name, agent in CORPUS.items():
        ours, theirs = device_tags(agent), reference_tags(agent)
        if ours != theirs:
            disagree[name] = (set(ours), set(theirs))
    assert disagree == DIFFERENCES


@pytest.mark.parametrize(("name", "expected"), [
    ("iphone_safari", {"ios", "mobile"}), ("ipad_safari", {"ios", "mobile"}), ("ipod", {"ios", "mobile"}),
    ("ipados_desktop_mode", {"macos", "desktop"}), ("android_chrome_tablet", {"android", "mobile"}),
    ("samsung_browser_phone", {"android", "mobile"}), ("windows_edge", {"windows", "desktop"}),
    ("macos_safari", {"macos", "desktop"}), ("linux_firefox", {"linux", "desktop"}), ("chromeos", {"desktop"}),
    ("opera_mini_symbian", {"mobile"}), ("googlebot", set()), ("curl", set()), ("slackbot", set()), ("empty", set()),
])
def test_device_tags_by_hand(name: str, expected: set[str]) -> None:
    assert device_tags(CORPUS[name]) == expected


def test_every_tagged_visitor_is_exactly_one_of_mobile_and_desktop() -> None:
    for agent in CORPUS.values():
        tags = device_tags(agent)
        assert tags <= set(DEVICES)
        if tags:
            assert len(tags & {"mobile", "desktop"}) == 1, agent


# ---- Accept-Language ----------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "expected"), [
    ("nb-NO,nb;q=0.9,no;q=0.8,nn;q=0.7,en-US;q=0.6,en;q=0.5", "nb"),
    ("en-US,en;q=0.9", "en"),
    ("en;q=0.5, sv;q=0.8", "sv"),  # the highest q, not the first
    ("de;q=0.7, fr;q=0.7", "de"),  # the first of equals
    ("*, fr;q=0.5", "fr"),  # * is no language
    ("da;q=0, fi;q=0.1", "fi"),  # q=0 means "not this one"
    ("da;q=0", None),
    ("zh-Hant-TW", "zh"),
    ("en_US", "en"),
    ("FIL-ph", "fil"),
    ("x-klingon, i-navajo, nb;q=0.2", "nb"),  # tags whose primary part is not 2-3 letters are skipped
    ("nb;q=2, sv;q=abc, en;q=0.3", "en"),  # q outside 0-1 or not a number: the entry is ignored
    ("nb;q=nan, sv;q=inf", None),
    (";q=1, ,, en", "en"),
    ("", None),
    (None, None),
    ("!!!", None),
    ("\x00\xff,,;;==", None),
    ("en-" + "x" * 5000, "en"),  # long headers are read (not cached)
    (",".join(["*"] * 60) + ",nb", None),  # only the first 50 entries are read
])
def test_preferred_language(header: str | None, expected: str | None) -> None:
    assert preferred_language(header) == expected


# ---- selection ----------------------------------------------------------------------------------

IPHONE, ANDROID, WINDOWS = CORPUS["iphone_safari"], CORPUS["android_chrome_phone"], CORPUS["windows_chrome"]


def compiled(*rules: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(compile_rule(r["conditions"], f"https://x/{i}?tid=", "", f"https://x/{i}")
                 for i, r in enumerate(validate_rules(list(rules))))


def env(ua: str = "", lang: str | None = None, query: str = "") -> dict[str, str]:
    environ = {"HTTP_USER_AGENT": ua, "QUERY_STRING": query}
    if lang is not None:
        environ["HTTP_ACCEPT_LANGUAGE"] = lang
    return environ


FLYER = compiled(rule(device="ios"), rule(device="android"), rule(language=["nb", "no", "nn"]))


@pytest.mark.parametrize(("environ", "country", "expected"), [
    (env(IPHONE, "nb-NO"), "NO", 0),  # the first rule that holds wins, though the language rule holds too
    (env(ANDROID, "nb-NO"), None, 1),
    (env(WINDOWS, "nn,en;q=0.5"), None, 2),
    (env(WINDOWS, "en-GB,nb;q=0.9"), "NO", -1),  # nb is not the most preferred language
    (env(WINDOWS), None, -1),
    (env(""), None, -1),
])
def test_the_flyer_rules(environ: dict[str, str], country: str | None, expected: int) -> None:
    assert select_rule(FLYER, environ, country) == expected


def test_all_conditions_of_a_rule_must_hold() -> None:
    rules = compiled(rule(device=["mobile"], country=["NO", "SE"], language=["nb", "sv"], query={"src": "flyer"}))
    full = env(ANDROID, "sv-SE", "src=flyer&x=1")
    assert select_rule(rules, full, "SE") == 0
    assert select_rule(rules, env(WINDOWS, "sv-SE", "src=flyer"), "SE") == -1
    assert select_rule(rules, env(ANDROID, "da", "src=flyer"), "SE") == -1
    assert select_rule(rules, full, "DK") == -1
    assert select_rule(rules, full, None) == -1  # an unknown country matches no country list
    assert select_rule(rules, env(ANDROID, "sv-SE", "src=poster"), "SE") == -1


def test_query_values_and_null() -> None:
    rules = compiled(rule(query={"src": "flyer"}), rule(query={"ref": None}), rule(query={"empty": ""}))
    assert select_rule(rules, env(query="src=flyer"), None) == 0
    assert select_rule(rules, env(query="src=poster&src=flyer"), None) == 0  # any of a repeated parameter
    assert select_rule(rules, env(query="src=Flyer"), None) == -1  # values are compared exactly
    assert select_rule(rules, env(query="ref=anything"), None) == 1
    assert select_rule(rules, env(query="ref="), None) == 1  # present, even empty
    assert select_rule(rules, env(query="ref"), None) == 1
    assert select_rule(rules, env(query="empty="), None) == 2
    assert select_rule(rules, env(query="src=a%20b+c"), None) == -1
    assert select_rule(compiled(rule(query={"src": "a b c"})), env(query="src=a%20b+c"), None) == 0
    assert select_rule(rules, env(query="%ff%00=&&=="), None) == -1  # garbage is no match, never an error
    assert select_rule(rules, {}, None) == -1  # no query string, agent or language at all


def test_country_only_rules_read_nothing_else() -> None:
    rules = compiled(rule(country=["NO"]))

    class Watching(dict):  # fails the test if the request's headers or query are read
        def get(self, key: str, default: Any = None) -> Any:
            raise AssertionError(f"read {key}")

    assert select_rule(rules, Watching(), "NO") == 0
    assert select_rule(rules, Watching(), "SE") == -1
