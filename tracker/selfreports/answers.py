"""Answer options of "How did you hear about us?" and the free-text normaliser.

Free text becomes a channel by phrases: the ``[synonyms]`` of ``config/answers.toml`` plus the
analysts' rules kept in the database. Matching works on *folded* text: transliterated to ASCII with
unidecode (so "hørte det på en podkast" is "horte det pa en podkast"), lower-cased, punctuation as
spaces. A phrase of k words is compared with every run of k words of the answer and scores

- 100 when equal;
- 95 when the words are the phrase plus an inflection ending ("podkasten", "kollegaen", "searched");
- otherwise, for phrases of at least :data:`FUZZY_MIN_LENGTH` letters (typos): rapidfuzz's ``fuzz.ratio``
  (0-100) from :data:`FUZZY_CUTOFF` (a letter missing or doubled: "podkst", "colleage"), or one edit of
  rapidfuzz's optimal string alignment distance (``distance.OSA``) when that edit swaps two neighbouring
  letters ("pdocast", "emial") or, in phrases of at least :data:`SUBSTITUTION_MIN_LENGTH` letters,
  replaces one letter; it then scores ``100 * (1 - 1 / len(phrase))``. A window that is the phrase cut
  short is another word, not a typo ("even" is not "event").

The best-scoring phrase wins; analysts' rules are tried first and win whenever one of them matches
(that is how a wrong default is corrected); ties go to the longer phrase, then to the earlier one.
Nothing matching means ``Other``.

Paid and organic: when a default phrase of a channel that has a paid counterpart (``[paid] channels``, e.g.
Organic social -> Paid social) wins and the answer also holds a paid word (``[paid] words``: annonse,
reklame, sponset, ad ...; matched as the phrases are), the answer gets the paid channel and the matched
phrase says both ("linkedin + annonse"). A word made of a word and a paid word ("facebookannonse",
"Google-reklame" is already two words) is split into the two, in answers and in phrases alike; only paid
words of at least :data:`COMPOUND_PAID_MIN_LENGTH` letters end compounds ("flygeblad" keeps its "ad").

This module has no Flask or SQLAlchemy imports: reports call it with the raw stored text, so a new rule
re-maps old answers too.
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from unidecode import unidecode

from tracker.config import CONFIG_DIR, ConfigError, Settings

__all__ = ["FUZZY_CUTOFF", "FUZZY_MIN_LENGTH", "LANGUAGES", "OTHER", "SUBSTITUTION_MIN_LENGTH", "AnswerBook",
           "Match", "Matcher", "Option", "Paid", "fold", "load_answers", "with_answers"]

OTHER = "Other"
LANGUAGES = ("en", "no")
FUZZY_CUTOFF = 88.0
FUZZY_MIN_LENGTH = 5
SUBSTITUTION_MIN_LENGTH = 7  # shorter words one letter apart are often other words ("masse", "messe")
COMPOUND_MIN_LENGTH = 3  # the first part of a word split before a paid word ("googleannonse")
COMPOUND_PAID_MIN_LENGTH = 5  # paid words that end compounds: "annonse" does, "ad" does not ("flygeblad")
PREFIX_SCORE = 95.0
MAX_WORDS = 120  # longer answers are matched on their first words only
# Endings that leave the phrase's meaning (Norwegian definite and plural forms, English -s/-ed/-ing).
ENDINGS = ("s", "e", "t", "a", "n", "en", "et", "er", "ar", "ne", "ene", "ane", "ens", "ets", "ed", "es",
           "ing", "ingen")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Return ``text`` as lower-case ASCII words separated by single spaces."""
    return _NON_WORD.sub(" ", unidecode(text).lower()).strip()


@dataclass(frozen=True)
class Option:
    """One answer option of /ask: its stored key, its channel and its label per language."""

    key: str
    channel: str
    labels: Mapping[str, str]

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels["en"]


@dataclass(frozen=True)
class Match:
    """Why free text got its channel: the phrase, its score and whether it was an analyst's ``rule``."""

    channel: str
    phrase: str
    score: float
    source: str  # "rule" (database) or "default" (config/answers.toml)


@dataclass(frozen=True)
class Paid:
    """Paid words and the paid counterpart of organic channels (``[paid]`` of ``config/answers.toml``)."""

    words: tuple[str, ...] = ()
    channels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Phrase:
    text: str
    channel: str
    source: str
    order: int


class Matcher:
    """Free text -> channel by the given phrases; build once, call :meth:`match` many times.

    Parameters
    ----------
    defaults
        ``(phrase, channel)`` pairs from the configuration file.
    rules
        ``(phrase, channel)`` pairs an analyst added; they are tried before the defaults.
    paid
        Paid words and channels: a default match on an organic channel with a paid word is the paid channel.

    Examples
    --------
    >>> m = Matcher([("podcast", "Podcast"), ("podkast", "Podcast"), ("colleague", "Word of mouth")])
    >>> m.channel("Hørte det på en podkast"), m.channel("a colleage told me"), m.channel("no idea")
    ('Podcast', 'Word of mouth', 'Other')
    >>> m.channel("pdocast")  # two letters swapped
    'Podcast'
    >>> p = Matcher([("linkedin", "Organic social")], paid=Paid(("annonse",), {"Organic social": "Paid social"}))
    >>> p.match("LinkedIn-annonse")
    Match(channel='Paid social', phrase='linkedin + annonse', score=100.0, source='default')
    """

    def __init__(self, defaults: Iterable[tuple[str, str]], rules: Iterable[tuple[str, str]] = (),
                 paid: Paid | None = None) -> None:
        self._paid = paid or Paid()
        self._paid_words = [_Phrase(w, "", "paid", i) for i, w in enumerate(fold(w) for w in self._paid.words) if w]
        ends = sorted({w.text for w in self._paid_words
                       if len(w.text) >= COMPOUND_PAID_MIN_LENGTH and " " not in w.text}, key=len, reverse=True)
        self._compound = re.compile(
            rf"(?P<head>[a-z0-9]{{{COMPOUND_MIN_LENGTH},}}?)(?P<tail>(?:{'|'.join(ends)})(?:{'|'.join(ENDINGS)})?)"
        ) if ends else None
        self._groups: list[dict[int, list[_Phrase]]] = []
        order = 0
        for source, pairs in (("rule", rules), ("default", defaults)):
            by_words: dict[int, list[_Phrase]] = {}
            for phrase, channel in pairs:
                folded = " ".join(self._split(fold(phrase).split()))
                if folded:
                    by_words.setdefault(folded.count(" ") + 1, []).append(_Phrase(folded, channel, source, order))
                    order += 1
            self._groups.append(by_words)
        self._cache: dict[str, Match | None] = {}

    def match(self, text: str | None) -> Match | None:
        """Return the best :class:`Match` for ``text``, or None when nothing matches."""
        if not text:
            return None
        words = self._split(fold(text).split()[:MAX_WORDS])
        key = " ".join(words)
        if key not in self._cache:
            self._cache[key] = self._match(words)
        return self._cache[key]

    def channel(self, text: str | None) -> str:
        """Return the channel of ``text`` (``Other`` when nothing matches)."""
        found = self.match(text)
        return found.channel if found else OTHER

    def _split(self, words: list[str]) -> list[str]:
        """Words with a paid word at their end split in two: "facebookannonse" -> "facebook", "annonse"."""
        if self._compound is None:
            return words
        out = []
        for word in words:
            parts = self._compound.fullmatch(word)
            out.extend((parts["head"], parts["tail"]) if parts else (word,))
        return out

    def _match(self, words: list[str]) -> Match | None:
        for by_words in self._groups:  # analysts' rules first: any match of theirs wins
            best: tuple[float, int, int, _Phrase] | None = None
            for size, phrases in by_words.items():
                windows = [" ".join(words[i:i + size]) for i in range(len(words) - size + 1)]
                if not windows:
                    continue
                for phrase, score in _best_scores(windows, phrases):
                    candidate = (score, len(phrase.text), -phrase.order, phrase)
                    if best is None or candidate[:3] > best[:3]:
                        best = candidate
            if best is not None:
                score, _, _, phrase = best
                paid_channel = self._paid.channels.get(phrase.channel)
                if phrase.source == "default" and paid_channel and self._paid_words:
                    found = _best_scores(words, self._paid_words)
                    if found:
                        word = max(found, key=lambda f: (f[1], -f[0].order))[0]
                        return Match(paid_channel, f"{phrase.text} + {word.text}", float(score), phrase.source)
                return Match(phrase.channel, phrase.text, float(score), phrase.source)
        return None


def _best_scores(windows: Sequence[str], phrases: Sequence[_Phrase]) -> list[tuple[_Phrase, float]]:
    """Each phrase's best score over the windows, for the phrases that match one of them."""
    texts = [p.text for p in phrases]
    ratio = process.cdist(windows, texts, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    edits = process.cdist(windows, texts, scorer=OSA.distance, score_cutoff=1)
    found = []
    for j, phrase in enumerate(phrases):
        score = 0.0
        for i, window in enumerate(windows):
            if window == phrase.text:
                score = 100.0
                break
            if window.startswith(phrase.text) and window[len(phrase.text):] in ENDINGS and len(phrase.text) >= 3:
                score = max(score, PREFIX_SCORE)
            elif len(phrase.text) >= FUZZY_MIN_LENGTH and not phrase.text.startswith(window):
                score = max(score, _typo_score(window, phrase.text, float(ratio[i, j]), int(edits[i, j])))
        if score > 0:
            found.append((phrase, score))
    return found


def _typo_score(window: str, phrase: str, ratio: float, edits: int) -> float:
    """The score of ``window`` as a typo of ``phrase`` (0 when it is not one); see the module's docstring."""
    if ratio >= FUZZY_CUTOFF:  # a letter missing or doubled
        return ratio
    if edits == 1 and len(window) == len(phrase) and (
            len(phrase) >= SUBSTITUTION_MIN_LENGTH or sorted(window) == sorted(phrase)):  # swapped or replaced
        return 100.0 * (1 - 1 / len(phrase))
    return 0.0


@dataclass(frozen=True)
class AnswerBook:
    """The configured answer options and default phrases (``config/answers.toml``)."""

    options: tuple[Option, ...]
    synonyms: tuple[tuple[str, str], ...]
    paid: Paid = field(default_factory=Paid)
    _by_key: Mapping[str, Option] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], channels: Sequence[str]) -> AnswerBook:
        """Validate the file's content against the taxonomy's ``channels``; raise ConfigError."""
        options = []
        for i, raw in enumerate(data.get("options", ()), start=1):
            key, channel = raw.get("key"), raw.get("channel")
            if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_]{1,40}", key) or key == "other":
                raise ConfigError(f"answers option {i}: key must be 1-40 of a-z, 0-9, _ (and not 'other')")
            if channel not in channels:
                raise ConfigError(f"answers option {key!r}: channel {channel!r} is not in the taxonomy's channels")
            labels = {lang: raw[lang] for lang in LANGUAGES if isinstance(raw.get(lang), str) and raw[lang].strip()}
            if "en" not in labels:
                raise ConfigError(f"answers option {key!r} needs an English label (en = \"...\")")
            options.append(Option(key, channel, labels))
        keys = [o.key for o in options]
        if len(set(keys)) != len(keys):
            raise ConfigError("answers options: every key must be different")
        synonyms = []
        for channel, phrases in data.get("synonyms", {}).items():
            if channel not in channels:
                raise ConfigError(f"answers synonyms: channel {channel!r} is not in the taxonomy's channels")
            if not isinstance(phrases, list) or not all(isinstance(p, str) and fold(p) for p in phrases):
                raise ConfigError(f"answers synonyms for {channel!r} must be a list of non-empty phrases")
            synonyms.extend((phrase, channel) for phrase in phrases)
        raw_paid = data.get("paid", {})
        words, pairs = raw_paid.get("words", []), raw_paid.get("channels", {})
        if not isinstance(words, list) or not all(isinstance(w, str) and fold(w) for w in words):
            raise ConfigError("answers paid words must be a list of non-empty words")
        if not isinstance(pairs, dict):
            raise ConfigError("answers paid channels must be a table of organic channel = paid channel")
        for organic, paid_channel in pairs.items():
            if organic not in channels or paid_channel not in channels:
                raise ConfigError(f"answers paid channels: {organic!r} = {paid_channel!r} names a channel "
                                  "the taxonomy does not have")
        return cls(tuple(options), tuple(synonyms), Paid(tuple(words), dict(pairs)), {o.key: o for o in options})

    def option(self, key: str | None) -> Option | None:
        return self._by_key.get(key) if key else None

    def matcher(self, rules: Iterable[tuple[str, str]] = ()) -> Matcher:
        """A matcher of the default phrases plus the analysts' ``rules``."""
        return Matcher(self.synonyms, rules, self.paid)

    def channel(self, option: str | None, text: str | None, matcher: Matcher) -> str:
        """The channel of one stored answer: its option's channel, else its free text's, else Other."""
        chosen = self.option(option)
        if chosen is not None:
            return chosen.channel
        return matcher.channel(text)


def load_answers(path: Path, channels: Sequence[str]) -> AnswerBook:
    """Read and validate an answers file; raise ConfigError naming the problem."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"answers file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"answers file {path}: {exc}") from None
    return AnswerBook.from_mapping(data, channels)


def with_answers(settings: Settings, config_dir: Path = CONFIG_DIR) -> Settings:
    """Return ``settings`` with their answer book, ``answers_file`` of ``config_dir`` (``settings.answers``).

    The application factory calls it on the settings it loads. Raises ConfigError naming the problem when
    the file is missing, is not TOML, or names a channel the taxonomy does not have.
    """
    book = load_answers(config_dir / settings.answers_file, settings.taxonomy.channels)
    return dataclasses.replace(settings, answers=book)
