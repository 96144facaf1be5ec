"""Self-reported sources: the normaliser, /ask, the API, tying answers to conversions, analysts' rules."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from accounts_support import sign_in_as

from attribution.selfreports import tie_answers
from tracker.config import ConfigError, load_settings
from tracker.selfreports.answers import AnswerBook, Matcher, fold, with_answers
from tracker.selfreports.models import SelfReport

ORIGIN = "https://www.example.com"
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def default_matcher() -> Matcher:
    return with_answers(load_settings()).answers.matcher()


# ---- the normaliser (no database) ----------------------------------------------------------------

@pytest.mark.parametrize(("text", "channel"), [
    ("hørte det på en podkast", "Podcast"),
    ("Hørte det på en PODKAST!", "Podcast"),
    ("hørte om dere i podkasten til Ola", "Podcast"),  # inflected
    ("podkst", "Podcast"),  # typo
    ("a colleague told me", "Word of mouth"),
    ("a colleage of mine", "Word of mouth"),  # typo
    ("Kollegaen min tipset meg", "Word of mouth"),
    ("saw your stand at the fair", "Events"),
    ("Besøkte standen deres på messa", "Events"),
    ("konferance i Bergen", "Events"),  # typo
    ("googlet", "Organic search"),
    ("Søkte på nettet", "Organic search"),
    ("from a google ads result", "Paid search"),  # the longer phrase wins
    ("LinkdIn", "Organic social"),  # typo
    ("leste en artikkel i avisen", "PR"),
    ("fikk nyhetsbrevet", "Email"),
    ("no idea really", "Other"),
    ("research", "Other"),  # not "search" with a prefix
    ("", "Other"),
])
def test_free_text_is_normalised_in_both_languages(default_matcher: Matcher, text: str, channel: str) -> None:
    assert default_matcher.channel(text) == channel


def test_folding_drops_accents_case_and_punctuation() -> None:
    assert fold("  Hørte det på en Podkast, Æsj! ") == "horte det pa en podkast aesj"


def test_an_analysts_rule_wins_over_the_defaults() -> None:
    matcher = Matcher([("podcast", "Podcast")], rules=[("ola's podcast", "Word of mouth")])
    assert matcher.channel("I heard it on a podcast") == "Podcast"
    found = matcher.match("Ola's podcast, episode 3")
    assert found is not None and (found.channel, found.source) == ("Word of mouth", "rule")


def test_answer_book_rejects_unknown_channels_and_keys() -> None:
    channels = ["Podcast", "Direct", "Other"]
    with pytest.raises(ConfigError, match="'Nope' is not in the taxonomy"):
        AnswerBook.from_mapping({"options": [{"key": "x", "channel": "Nope", "en": "X"}]}, channels)
    with pytest.raises(ConfigError, match="not 'other'"):
        AnswerBook.from_mapping({"options": [{"key": "other", "channel": "Podcast", "en": "X"}]}, channels)
    with pytest.raises(ConfigError, match="synonyms: channel 'Radio'"):
        AnswerBook.from_mapping({"synonyms": {"Radio": ["radio"]}}, channels)
    with pytest.raises(ConfigError, match="English label"):
        AnswerBook.from_mapping({"options": [{"key": "x", "channel": "Podcast", "no": "X"}]}, channels)


# ---- tying answers to conversions (pure) ---------------------------------------------------------

def test_tie_by_id_wins_then_nearest_in_time_within_seven_days() -> None:
    t = pd.Timestamp("2026-05-10 12:00", tz="UTC")
    conversions = pd.DataFrame({
        "conversion_id": [1, 2, 3, 4], "person_id": ["a", "a", "b", "c"],
        "ts": [t, t + pd.Timedelta(days=20), t, t], "external_id": ["deal-1", "deal-2", "deal-3", "deal-4"]})
    answers = pd.DataFrame({
        "answer_id": [10, 11, 12, 13, 14], "person_id": ["a", "a", "a", "b", "c"],
        "ts": [t + pd.Timedelta(days=1), t - pd.Timedelta(days=30), t + pd.Timedelta(days=18),
               t - pd.Timedelta(days=6, hours=23), t + pd.Timedelta(days=7, seconds=1)],
        "channel": ["Events", "Podcast", "Print", "PR", "Email"],
        "conversion_external_id": [None, "deal-1", None, None, None]})
    tied = tie_answers(conversions, answers)
    plain = lambda column: [None if pd.isna(v) else v for v in tied[column]]  # noqa: E731
    assert tied["answer_id"].dtype == "Int64"
    assert plain("answer_id") == [11, 12, 13, None]
    assert plain("tied_by") == ["id", "time", "time", None]
    assert plain("answer_channel") == ["Podcast", "Print", "PR", None]
    assert conversions.columns.tolist() == ["conversion_id", "person_id", "ts", "external_id"]  # not mutated


def test_tie_in_time_prefers_the_nearest_answer() -> None:
    t = pd.Timestamp("2026-05-10", tz="UTC")
    conversions = pd.DataFrame({"conversion_id": [1], "person_id": ["a"], "ts": [t]})
    answers = pd.DataFrame({"answer_id": [1, 2], "person_id": ["a", "a"], "channel": ["Far", "Near"],
                            "ts": [t - pd.Timedelta(days=5), t + pd.Timedelta(hours=2)]})
    assert tie_answers(conversions, answers)["answer_channel"].tolist() == ["Near"]
    with pytest.raises(ValueError, match="must not be negative"):
        tie_answers(conversions, answers, window=pd.Timedelta(days=-1))


# ---- /ask ----------------------------------------------------------------------------------------

@pytest.fixture
def ask_app(make_app: Any) -> Any:
    return make_app(landing_origins=(ORIGIN,))


def form_token(resp: Any) -> str:
    match = FORM_TOKEN.search(resp.text)
    assert match, resp.text
    return match.group(1)


def reports(app: Any) -> list[SelfReport]:
    from tracker.db import get_db
    with get_db(app).Session() as s:
        return list(s.scalars(sa.select(SelfReport).order_by(SelfReport.id)))


def test_ask_page_in_english_and_norwegian_embeddable_by_landing_sites(ask_app: Any) -> None:
    client = ask_app.test_client()
    english = client.get("/ask")
    assert english.status_code == 200 and "How did you hear about us?" in english.text
    assert 'value="podcast"' in english.text and "A podcast" in english.text and 'name="text"' in english.text
    csp = english.headers["Content-Security-Policy"]
    assert f"frame-ancestors {ORIGIN};" in csp  # the landing sites only, not even this site
    assert "X-Frame-Options" not in english.headers
    assert english.headers["Cache-Control"] == "no-store"
    norwegian = client.get("/ask", headers={"Accept-Language": "nb-NO,nb;q=0.9,en;q=0.5"})
    assert "Hvordan hørte du om oss?" in norwegian.text and "En podkast" in norwegian.text
    assert norwegian.headers["Content-Language"] == "nb"
    assert "Hvordan" in client.get("/ask?lang=no").text
    assert "How did" in client.get("/ask?lang=en", headers={"Accept-Language": "nb"}).text
    # other pages still refuse every frame
    assert client.get("/login").headers["X-Frame-Options"] == "DENY"


def test_ask_ties_the_answer_to_the_ids_of_its_url(ask_app: Any, auth: dict[str, str]) -> None:
    client = ask_app.test_client()
    page = client.get("/ask?lang=no&svid=site-visitor-123456&conversion=order-77")
    token = form_token(page)
    sent = client.post("/ask?lang=no", data={"form_token": token, "option": "other",
                                             "text": "hørte det på en podkast"})
    assert sent.status_code == 200 and "Takk!" in sent.text
    again = client.post("/ask?lang=no", data={"form_token": token, "option": "event", "text": ""})
    assert again.status_code == 200  # the same form twice (double click, back button): stored once
    (report,) = reports(ask_app)
    assert (report.option, report.text, report.language, report.via) == ("other", "hørte det på en podkast", "no",
                                                                         "page")
    assert (report.site_visitor_id, report.conversion_external_id) == ("site-visitor-123456", "order-77")

    # the conversion sent later with the same id joins the answer's person
    resp = client.post("/api/v1/conversions", json={"external_id": "order-77", "type": "purchase", "value": 100},
                       headers=auth)
    assert resp.status_code == 201 and resp.json["person_id"] == report.person_id
    listed = client.get(f"/api/v1/self-reports?person_id={report.person_id}", headers=auth).json
    assert listed["items"][0]["channel"] == "Podcast" and listed["items"][0]["matched_phrase"] == "podkast"


def test_ask_form_errors(ask_app: Any) -> None:
    client = ask_app.test_client()
    token = form_token(client.get("/ask"))
    empty = client.post("/ask", data={"form_token": token, "option": "other", "text": "  "})
    assert empty.status_code == 422 and 'role="alert"' in empty.text and form_token(empty) == token
    unknown = client.post("/ask", data={"form_token": token, "option": "carrier-pigeon"})
    assert unknown.status_code == 422 and "carrier-pigeon" in unknown.text
    forged = client.post("/ask", data={"form_token": token[:-3] + "abc", "option": "podcast"})
    assert forged.status_code == 400 and "reload the page" in forged.text
    missing = client.post("/ask", data={"option": "podcast"})
    assert missing.status_code == 400
    bad_link = client.get("/ask?tid=" + "x" * 40)
    assert bad_link.status_code == 400 and "tid" in bad_link.text
    assert reports(ask_app) == []


def test_ask_form_expires(ask_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.selfreports import service
    client = ask_app.test_client()
    token = form_token(client.get("/ask"))
    monkeypatch.setattr(service, "FORM_MAX_AGE", timedelta(seconds=-1))
    resp = client.post("/ask", data={"form_token": token, "option": "podcast"})
    assert resp.status_code == 400 and "expired" in resp.text


def test_ask_is_rate_limited_per_ip(make_app: Any) -> None:
    app = make_app(landing_origins=(ORIGIN,), collect_rate_limit="2 per minute")
    client = app.test_client()
    statuses = []
    for _ in range(3):
        token = form_token(client.get("/ask"))
        statuses.append(client.post("/ask", data={"form_token": token, "option": "search"}).status_code)
    assert statuses == [200, 200, 429]
    assert len(reports(app)) == 2


# ---- the API -------------------------------------------------------------------------------------

def answer(**fields: Any) -> dict[str, Any]:
    body = {"option": "other", "text": "a colleague told me", "customer_key": "kari@example.no"}
    body.update(fields)
    return body


def test_api_records_with_idempotent_submission_id(client: Any, auth: dict[str, str], session: Any) -> None:
    first = client.post("/api/v1/self-reports", json=answer(submission_id="survey-1"), headers=auth)
    assert first.status_code == 201, first.json
    assert first.json["channel"] == "Word of mouth" and first.json["status"] == "created"
    again = client.post("/api/v1/self-reports", json=answer(submission_id="survey-1", text="podcast"), headers=auth)
    assert again.status_code == 200 and again.json["status"] == "duplicate" and again.json["id"] == first.json["id"]
    assert session.scalar(sa.select(sa.func.count()).select_from(SelfReport)) == 1
    option_only = client.post("/api/v1/self-reports", json={"option": "event", "language": "no"}, headers=auth)
    assert option_only.status_code == 201 and option_only.json["channel"] == "Events"
    assert option_only.json["person_id"] != first.json["person_id"]  # no ids: a person of its own, kept


@pytest.mark.parametrize(("body", "field"), [
    ({"option": "carrier-pigeon"}, "option"),
    ({"option": "other"}, "text"),
    ({}, "option"),
    ({"option": "podcast", "text": "x" * 501}, "text"),
    ({"option": "podcast", "language": "de"}, "language"),
    ({"option": "podcast", "ts": "2999-01-01T00:00:00Z"}, "ts"),
    ({"option": "podcast", "ts": "yesterday"}, "ts"),
    ({"option": "podcast", "colour": "red"}, "colour"),
    ({"option": "podcast", "tid": "has space"}, "tid"),
    ({"option": "podcast", "text": "bad\x00text"}, "text"),
])
def test_api_validation_names_the_field(client: Any, auth: dict[str, str], session: Any, body: dict[str, Any],
                                        field: str) -> None:
    resp = client.post("/api/v1/self-reports", json=body, headers=auth)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field, resp.json
    assert session.scalar(sa.select(sa.func.count()).select_from(SelfReport)) == 0


def test_api_needs_a_key(client: Any) -> None:
    assert client.post("/api/v1/self-reports", json={"option": "podcast"}).status_code == 401
    assert client.get("/api/v1/answer-rules").status_code == 401


def test_answer_given_with_the_customer_key_joins_the_conversion(client: Any, auth: dict[str, str],
                                                                 session: Any) -> None:
    conv = client.post("/api/v1/conversions", json={"external_id": "deal-9", "type": "lead",
                                                    "customer_key": "Ola@Example.no"}, headers=auth).json
    said = client.post("/api/v1/self-reports", json={"option": "podcast", "customer_key": "ola@example.no"},
                       headers=auth).json
    by_id = client.post("/api/v1/self-reports", json={"option": "print", "conversion_external_id": "deal-9"},
                        headers=auth).json
    assert said["person_id"] == conv["person_id"] == by_id["person_id"]


def test_journey_shows_the_answer_tied_by_id_and_by_time(client: Any, auth: dict[str, str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ts = lambda d: (now - timedelta(days=d)).isoformat()  # noqa: E731
    key = {"customer_key": "kari@example.no"}
    assert client.post("/api/v1/conversions", json={"external_id": "d1", "type": "lead", "ts": ts(20), **key},
                       headers=auth).status_code == 201
    assert client.post("/api/v1/conversions", json={"external_id": "d2", "type": "purchase", "ts": ts(10), **key},
                       headers=auth).status_code == 201
    assert client.post("/api/v1/conversions", json={"external_id": "d3", "type": "lead", "ts": ts(0), **key},
                       headers=auth).status_code == 201
    client.post("/api/v1/self-reports", json={"option": "event", "ts": ts(8), **key}, headers=auth)  # 2 days after d2
    person = client.post("/api/v1/self-reports", json={"text": "Hørte det på podden", "ts": ts(30),
                                                       "conversion_external_id": "d1", **key}, headers=auth).json
    journey = client.get(f"/api/v1/people/{person['person_id']}/journey", headers=auth).json["items"]
    tied = {i["detail"]["external_id"]: (i["detail"]["self_reported_channel"], i["detail"]["answer_tied_by"])
            for i in journey if i["kind"] == "conversion"}
    assert tied == {"d1": ("Podcast", "id"), "d2": ("Events", "time"), "d3": (None, None)}  # 8 days: too far
    channels = [i["channel"] for i in journey if i["kind"] == "self_report"]
    assert channels == ["Podcast", "Events"]


# ---- analysts' rules -----------------------------------------------------------------------------

def test_unmatched_answers_are_listed_and_a_rule_remaps_them(client: Any, auth: dict[str, str]) -> None:
    for text in ("Ola på treningssenteret", "ola på treningssenteret!", "no idea"):
        client.post("/api/v1/self-reports", json={"text": text}, headers=auth)
    unmatched = client.get("/api/v1/self-reports/unmatched", headers=auth).json["items"]
    # grouped by folded text, shown as last spelt
    assert [(u["text"], u["count"]) for u in unmatched] == [("ola på treningssenteret!", 2), ("no idea", 1)]
    assert client.get("/api/v1/self-reports?channel=Other", headers=auth).json["total"] == 3

    created = client.post("/api/v1/answer-rules", json={"phrase": "Treningssenteret", "channel": "Word of mouth"},
                          headers=auth)
    assert created.status_code == 201 and created.json["phrase"] == "treningssenteret"
    remapped = client.get("/api/v1/self-reports?channel=Word of mouth", headers=auth).json
    assert remapped["total"] == 2 and {i["matched_by"] for i in remapped["items"]} == {"rule"}
    assert [u["text"] for u in client.get("/api/v1/self-reports/unmatched", headers=auth).json["items"]] == ["no idea"]
    check = client.get("/api/v1/answer-rules/check?text=treningssentret", headers=auth).json  # typo
    assert check["channel"] == "Word of mouth" and check["source"] == "rule"

    duplicate = client.post("/api/v1/answer-rules", json={"phrase": "TRENINGSSENTERET", "channel": "PR"}, headers=auth)
    assert duplicate.status_code == 409 and duplicate.json["error"]["field"] == "phrase"
    bad = client.post("/api/v1/answer-rules", json={"phrase": "gym", "channel": "Radio"}, headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "channel"
    punctuation = client.post("/api/v1/answer-rules", json={"phrase": "?!", "channel": "PR"}, headers=auth)
    assert punctuation.status_code == 422 and punctuation.json["error"]["field"] == "phrase"
    rules = client.get("/api/v1/answer-rules", headers=auth).json
    assert [r["phrase"] for r in rules["rules"]] == ["treningssenteret"]
    assert {"phrase": "podkast", "channel": "Podcast"}.items() <= next(
        d for d in rules["defaults"] if d["phrase"] == "podkast").items()

    assert client.delete(f"/api/v1/answer-rules/{created.json['id']}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/answer-rules/{created.json['id']}", headers=auth).status_code == 404
    assert client.get("/api/v1/self-reports?channel=Other", headers=auth).json["total"] == 3
    radio = client.get("/api/v1/self-reports?channel=Radio", headers=auth)
    assert radio.status_code == 422 and radio.json["error"]["field"] == "channel"


def test_answers_page_adds_a_rule(client: Any, auth: dict[str, str], api_key: str) -> None:
    client.post("/api/v1/self-reports", json={"text": "Ola på gymmen"}, headers=auth)
    sign_in_as(client, "analyst")  # analysts keep the answer rules
    page = client.get("/answers")
    assert page.status_code == 200 and "Ola på gymmen" in page.text and 'id="unmatched"' in page.text
    token = CSRF.search(page.text).group(1)
    added = client.post("/answers/rules", data={"phrase": "gymmen", "channel": "Word of mouth", "csrf_token": token},
                        follow_redirects=True)
    assert added.status_code == 200 and "Rule added" in added.text
    assert "Every free-text answer matches a rule" in added.text
    refused = client.post("/answers/rules", data={"phrase": "gymmen", "channel": "PR", "csrf_token": token},
                          follow_redirects=True)
    assert "a rule for" in refused.text.replace("&#39;", "'")
    assert client.post("/answers/rules", data={"phrase": "x", "channel": "PR"}).status_code == 400  # no CSRF token
    assert "People" in page.text and "Answers" in page.text  # in the navigation
