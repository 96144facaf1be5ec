"""Answer options of "How did you hear about us?" and the free-text normaliser.

Free text becomes a channel by phrases: the ``[synonyms]`` of ``config/answers.toml`` plus the
analysts' rules kept in the database. Matching works on *folded* text: transliterated to ASCII with
unidecode (so "hørte det på en podkast" is "horte det pa en podkast"), lower-cased, punctuation as
spaces. A phrase of k words is compared with every run of k words of the answer and scores

- 100 when equal;
- 95 when the words are the phrase plus an inflection ending ("podkasten", "kollegaen", "searched");
- otherwise rapidfuzz's ``fuzz.ratio`` (0-100), counted only for phrases of at least
  :data:`FUZZY_MIN_LENGTH` letters and from :data:`FUZZY_CUTOFF` (typos: "podkst", "colleage").

The best-scoring phrase wins; analysts' rules are tried first and win whenever one of them matches
(that is how a wrong default is corrected); ties go to the longer phrase, then to the earlier one.
Nothing matching means ``Other``. This module has no Flask or SQLAlchemy imports: reports call it
with the raw stored text, so a new rule re-maps old answers too.
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
from unidecode import unidecode

from tracker.config import CONFIG_DIR, ConfigError, Settings

__all__ = ["FUZZY_CUTOFF", "FUZZY_MIN_LENGTH", "LANGUAGES", "OTHER", "AnswerBook", "Match", "Matcher",
           "Option", "fold", "load_answers", "with_answers"]

OTHER = "Other"
LANGUAGES = ("en", "no")
FUZZY_CUTOFF = 88.0
FUZZY_MIN_LENGTH = 5
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

    Examples
    --------
    >>> m = Matcher([("podcast", "Podcast"), ("podkast", "Podcast"), ("colleague", "Word of mouth")])
    >>> m.channel("Hørte det på en podkast"), m.channel("a colleage told me"), m.channel("no idea")
    ('Podcast', 'Word of mouth', 'Other')
    """

    def __init__(self, defaults: Iterable[tuple[str, str]], rules: Iterable[tuple[str, str]] = ()) -> None:
        self._groups: list[dict[int, list[_Phrase]]] = []
        order = 0
        for source, pairs in (("rule", rules), ("default", defaults)):
            by_words: dict[int, list[_Phrase]] = {}
            for phrase, channel in pairs:
                folded = fold(phrase)
                if folded:
                    by_words.setdefault(folded.count(" ") + 1, []).append(_Phrase(folded, channel, source, order))
                    order += 1
            self._groups.append(by_words)
        self._cache: dict[str, Match | None] = {}

    def match(self, text: str | None) -> Match | None:
        """Return the best :class:`Match` for ``text``, or None when nothing matches."""
        if not text:
            return None
        words = fold(text).split()[:MAX_WORDS]
        key = " ".join(words)
        if key not in self._cache:
            self._cache[key] = self._match(words)
        return self._cache[key]

    def channel(self, text: str | None) -> str:
        """Return the channel of ``text`` (``Other`` when nothing matches)."""
        found = self.match(text)
        return found.channel if found else OTHER

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
                return Match(phrase.channel, phrase.text, float(score), phrase.source)
        return None


def _best_scores(windows: Sequence[str], phrases: Sequence[_Phrase]) -> list[tuple[_Phrase, float]]:
    """Each phrase's best score over the windows, for the phrases that reach the cut-off."""
    texts = [p.text for p in phrases]
    fuzzy = process.cdist(windows, texts, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    found = []
    for j, phrase in enumerate(phrases):
        score = 0.0
        for i, window in enumerate(windows):
            if window == phrase.text:
                score = 100.0
                break
            if window.startswith(phrase.text) and window[len(phrase.text):] in ENDINGS and len(phrase.text) >= 3:
                score = max(score, PREFIX_SCORE)
            elif len(phrase.text) >= FUZZY_MIN_LENGTH:
                score = max(score, float(fuzzy[i, j]))
        if score >= FUZZY_CUTOFF:
            found.append((phrase, score))
    return found


@dataclass(frozen=True)
class AnswerBook:
    """The configured answer options and default phrases (``config/answers.toml``)."""

    options: tuple[Option, ...]
    synonyms: tuple[tuple[str, str], ...]
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
        return cls(tuple(options), tuple(synonyms), {o.key: o for o in options})

    def option(self, key: str | None) -> Option | None:
        return self._by_key.get(key) if key else None

    def matcher(self, rules: Iterable[tuple[str, str]] = ()) -> Matcher:
        """A matcher of the default phrases plus the analysts' ``rules``."""
        return Matcher(self.synonyms, rules)

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
