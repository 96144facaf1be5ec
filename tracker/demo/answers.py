"""Answers to "How did you hear about us?": options and free text in Norwegian and English, typos included."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tracker.demo.leads import as_typed

ANSWER_RATE = 0.65         # leads who answer "How did you hear about us?"
ANSWER_BY_ID = 0.8         # answers sent with the deal id (the thank-you page); the rest by e-mail only
NON_CONVERTER_ANSWERS = 0.1  # answers of people who never convert, per lead
OPTION_SHARE = 0.5         # answers that pick an option; the rest write free text
UNMATCHED_SHARE = 0.1      # free text no phrase matches ("Other", listed for review)
NORWEGIAN = 0.65
# Free text per topic (an option key of config/answers.toml) and language, typos included; "other"
# holds texts no default phrase matches.
ANSWER_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "event": {"no": ("Så standen deres på Oslo Expo", "messa på Lillestrøm", "Oslo Expo", "keynoten på Oslo Expo",
                     "snakket med dere på standen", "Olso expo"),
              "en": ("saw you at the fair", "visited your booth at the expo", "Oslo Expo keynote",
                     "met your team at the trade show")},
    "podcast": {"no": ("hørte det på en podkast", "Tech Talk-podden", "hørte om dere på Spotify", "podkst"),
                "en": ("heard you on the Tech Talk podcast", "a podcast episode", "on a podcast", "podcst")},
    "friend": {"no": ("kollegaen min tipset meg", "anbefalt av en kollega", "en kompis", "kolega", "sjefen min"),
               "en": ("a colleague told me", "my boss recommended you", "a former colleague", "word of mouth")},
    "search": {"no": ("googlet", "søkte etter attribusjonsverktøy", "Gogle"),
               "en": ("Found you on Google", "searched for attribution software", "google search")},
    "social": {"no": ("så en post på LinkedIn", "LinkdIn"), "en": ("saw a LinkedIn post", "LinkdIn", "linkedin")},
    "social_ad": {"no": ("sponset innlegg på LinkedIn",), "en": ("a sponsored post on LinkedIn",)},
    "email": {"no": ("nyhetsbrevet", "fikk en e-post fra dere"), "en": ("your newsletter", "an email from you")},
    "print": {"no": ("plakat på Bybanen", "plakaten på busstasjonen"),
              "en": ("saw a poster at the bus station", "a flyer")},
    "press": {"no": ("en artikkel i DN", "intervju i avisen"),
              "en": ("read an article about you", "saw you in the news")},
    "partner": {"no": ("leverandøren vår", "forhandleren vår"), "en": ("our reseller", "our consultant")},
    "other": {"no": ("husker ikke", "vet ikke", "via jobben", "fant dere på nettet", "konkurrent bruker dere",
                     "regnskapsføreren vår", "Tech Talk"),
              "en": ("don't remember", "can't recall", "ChatGPT", "I asked an AI assistant", "found you online",
                     "a competitor uses you", "our accountant mentioned you")},
}


def draw_answer(rng: np.random.Generator, topic: str, options: frozenset[str], email: str, ts: datetime,
                end: datetime, deal: str | None) -> dict[str, Any]:
    """Return one answer to "How did you hear about us?" about ``topic``, tied to ``deal`` or to the e-mail."""
    language = "no" if rng.random() < NORWEGIAN else "en"
    data: dict[str, Any] = {"language": language, "customer_key": as_typed(rng, email)}
    if rng.random() < UNMATCHED_SHARE:
        texts = ANSWER_TEXTS["other"][language]
        data.update(option="other", text=texts[int(rng.integers(len(texts)))])
    elif topic in options and rng.random() < OPTION_SHARE:
        data["option"] = topic
    else:
        texts = ANSWER_TEXTS.get(topic, ANSWER_TEXTS["other"])[language]
        data["text"] = texts[int(rng.integers(len(texts)))]
        if rng.random() < 0.5:  # the form's "Other" field; API callers send the text alone
            data["option"] = "other"
    if deal is not None and rng.random() < ANSWER_BY_ID:
        # The thank-you page after the form: minutes later, with the deal id.
        data.update(conversion_external_id=deal, ts=min(end, ts + timedelta(minutes=float(rng.uniform(0.5, 20)))))
    else:
        # Asked separately (a follow-up e-mail, the webinar sign-up): within a few days of the lead.
        data["ts"] = min(end, ts + timedelta(days=float(rng.uniform(-3, 5))))
    data["ts"] = data["ts"].isoformat()
    return data


def non_converter_answers(rng: np.random.Generator, pool: Sequence[tuple[str, datetime, str]], *, leads: int,
                          options: frozenset[str], end: datetime) -> list[dict[str, Any]]:
    """Return the answers of a few people who never convert (after a webinar, the expo's follow-up mail).

    ``pool`` holds (e-mail, time, topic) of identified visitors and idle attendees; about one answer per
    ten ``leads`` is drawn from it.
    """
    answers: list[dict[str, Any]] = []
    if pool:
        for k in rng.choice(len(pool), size=min(len(pool), round(NON_CONVERTER_ANSWERS * leads)),
                            replace=False):
            email, ts, topic = pool[int(k)]
            when = min(end, ts + timedelta(days=float(rng.uniform(0.1, 6))))
            answers.append(draw_answer(rng, topic, options, email, when, end, None))
    return answers
