"""Webhooks: endpoints API and roles, SSRF rules, events to deliveries, signing, retries, restarts, timeouts."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import standardwebhooks

from tracker import stop_background
from tracker.db import get_db, utcnow
from tracker.webhooks.models import Webhook, WebhookDelivery
from tracker.webhooks.sender import SCHEDULE, Connections, Outcome, claim_due, deliver_due, record

DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
PUBLIC_TARGET = "https://93.184.216.34/hooks/tracker"  # a public address literal: no DNS needed


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def deliveries(app: Any) -> list[WebhookDelivery]:
    with get_db(app).Session() as s:
        return list(s.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)))


def make_due(app: Any) -> None:
    """Advance time for the queue: every pending delivery is due now (instead of sleeping)."""
    with get_db(app).Session() as s:
        s.execute(sa.update(WebhookDelivery).where(WebhookDelivery.status == "pending")
                  .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        s.commit()


def send_due(app: Any, timeout: float = 5.0) -> dict[str, int]:
    return deliver_due(get_db(app).Session, app.config["SETTINGS"].webhook_allow_private_addresses, timeout=timeout)


def add_hook(client: Any, auth: dict[str, str], url: str, events: list[str]) -> dict[str, Any]:
    resp = client.post("/api/v1/webhooks", json={"url": url, "events": events}, headers=auth)
    assert resp.status_code == 201, resp.json
    return resp.json


def click(app: Any, code: str) -> None:
    resp = app.test_client().get(f"/r/{code}", headers={"User-Agent": DESKTOP})
    assert resp.status_code == 302
    app.extensions["tracker.redirects"]["spool"].drain()


# ---- endpoints: CRUD, roles, bad input ------------------------------------------------------------
def test_create_list_change_rotate_delete(client: Any, auth: dict[str, str], app: Any) -> None:
    created = add_hook(client, auth, PUBLIC_TARGET, ["click.recorded", "link.created", "click.recorded"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["click.recorded", "link.created"]
    standardwebhooks.Webhook(created["secret"])  # a secret the library accepts
    listed = client.get("/api/v1/webhooks", headers=auth).json
    assert [h["id"] for h in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0] and "secret" not in json.dumps(listed["items"])
    assert listed["items"][0]["deliveries"] == {"pending": 0, "delivered": 0, "failed": 0}
    one = client.get(f"/api/v1/webhooks/{created['id']}", headers=auth).json
    assert "secret" not in one and one["url"] == PUBLIC_TARGET

    changed = client.patch(f"/api/v1/webhooks/{created['id']}", json={"events": ["conversion.recorded"],
                                                                      "description": "CRM"}, headers=auth)
    assert changed.status_code == 200 and changed.json["events"] == ["conversion.recorded"]
    assert changed.json["description"] == "CRM" and changed.json["url"] == PUBLIC_TARGET

    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=auth).json
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    with get_db(app).Session() as s:
        assert s.get(Webhook, created["id"]).secret == rotated["secret"]

    assert client.delete(f"/api/v1/webhooks/{created['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/webhooks/{created['id']}", headers=auth).status_code == 404
    assert client.get("/api/v1/webhooks", headers=auth).json["items"] == []


@pytest.mark.parametrize("role, allowed", [("admin", True), ("marketer", True), ("staff", False),
                                           ("analyst", False), ("ingest", False)])
def test_roles(client: Any, role_key: Any, role: str, allowed: bool) -> None:
    headers = bearer(role_key(role))
    resp = client.post("/api/v1/webhooks", json={"url": PUBLIC_TARGET, "events": ["link.created"]}, headers=headers)
    assert resp.status_code == (201 if allowed else 403)
    assert client.get("/api/v1/webhooks", headers=headers).status_code == (200 if allowed else 403)


@pytest.mark.parametrize("body, field, words", [
    ({"events": ["link.created"]}, "url", "required"),
    ({"url": "http://93.184.216.34/h", "events": ["link.created"]}, "url", "https"),
    ({"url": "ftp://93.184.216.34/h", "events": ["link.created"]}, "url", "https"),
    ({"url": "https://127.0.0.1/h", "events": ["link.created"]}, "url", "loopback"),
    ({"url": "https://localhost:8443/h", "events": ["link.created"]}, "url", "127.0.0.1"),  # a name resolving there
    ({"url": "https://10.1.2.3/h", "events": ["link.created"]}, "url", "private"),
    ({"url": "https://192.168.1.10/h", "events": ["link.created"]}, "url", "private"),
    ({"url": "https://169.254.169.254/latest/meta-data", "events": ["link.created"]}, "url", "metadata"),
    ({"url": "https://[::1]/h", "events": ["link.created"]}, "url", "loopback"),
    ({"url": "https://[::ffff:127.0.0.1]/h", "events": ["link.created"]}, "url", "loopback"),
    ({"url": "https://224.0.0.1/h", "events": ["link.created"]}, "url", "multicast"),
    ({"url": "https://0.0.0.0/h", "events": ["link.created"]}, "url", "loopback"),
    ({"url": "https://user:pw@93.184.216.34/h", "events": ["link.created"]}, "url", "password"),
    ({"url": "https://no-such-host.invalid/h", "events": ["link.created"]}, "url", "resolve"),
    ({"url": PUBLIC_TARGET, "events": []}, "events", ""),
    ({"url": PUBLIC_TARGET}, "events", ""),
    ({"url": PUBLIC_TARGET, "events": ["link.created", "click.made"]}, "events[1]", "click.made"),
    ({"url": PUBLIC_TARGET, "events": ["link.created"], "description": "x" * 201}, "description", ""),
])
def test_bad_input_names_the_field_and_writes_nothing(client: Any, auth: dict[str, str], app: Any,
                                                      body: dict[str, Any], field: str, words: str) -> None:
    resp = client.post("/api/v1/webhooks", json=body, headers=auth)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field
    assert words in resp.json["error"]["message"]
    with get_db(app).Session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Webhook)) == 0


def test_bad_patch_changes_nothing(client: Any, auth: dict[str, str]) -> None:
    hook = add_hook(client, auth, PUBLIC_TARGET, ["link.created"])
    resp = client.patch(f"/api/v1/webhooks/{hook['id']}", json={"description": "new", "url": "https://127.0.0.1/"},
                        headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "url"
    after = client.get(f"/api/v1/webhooks/{hook['id']}", headers=auth).json
    assert after["description"] == "" and after["url"] == PUBLIC_TARGET


def test_the_setting_allows_http_and_local_addresses(make_app: Any, api_key: str, receiver: Any) -> None:
    local = make_app(webhook_allow_private_addresses=True).test_client()
    resp = local.post("/api/v1/webhooks", json={"url": receiver().url, "events": ["link.created"]},
                      headers=bearer(api_key))
    assert resp.status_code == 201, resp.json


# ---- events to deliveries, signing ----------------------------------------------------------------
def test_click_is_delivered_signed_with_link_channel_device(local_app: Any, api_key: str, receiver: Any) -> None:
    client, auth, rec = local_app.test_client(), bearer(api_key), receiver()
    hook = add_hook(client, auth, rec.url, ["click.recorded"])
    link = client.post("/api/v1/links", json={"destination": "https://example.com/landing", "utm_source": "newsletter",
                                              "utm_medium": "email", "utm_campaign": "spring"}, headers=auth).json
    assert deliveries(local_app) == []  # the endpoint does not want link.created
    click(local_app, link["code"])
    local_app.test_client().get(f"/r/{link['code']}", headers={"User-Agent": "Slackbot-LinkExpanding 1.0"})
    local_app.extensions["tracker.redirects"]["spool"].drain()
    (queued,) = deliveries(local_app)  # the bot's visit is not an event
    assert queued.status == "pending" and queued.event == "click.recorded" and rec.received == []

    assert send_due(local_app)["delivered"] == 1
    (got,) = rec.received
    assert got["path"] == "/hook?x=1"
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["webhook-id"] == queued.msg_id and headers["content-type"] == "application/json"
    payload = standardwebhooks.Webhook(hook["secret"]).verify(got["body"], got["headers"])
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook("whsec_" + "A" * 32).verify(got["body"], got["headers"])
    assert payload["type"] == "click.recorded" and payload["timestamp"].endswith("Z")
    data = payload["data"]
    assert data["link"]["code"] == link["code"] and data["via"] == "link" and data["channel"] == "Email"
    assert data["device_type"] == "pc" and data["browser"] == "Chrome" and data["os"] == "Windows"
    assert "country" in data and data["rule"] is None and data["click_id"]
    (done,) = deliveries(local_app)
    assert done.status == "delivered" and done.response_status == 200 and done.attempts == 1


def test_each_event_reaches_only_endpoints_that_want_it(local_app: Any, api_key: str, receiver: Any) -> None:
    client, auth = local_app.test_client(), bearer(api_key)
    rec = receiver()
    links_hook = add_hook(client, auth, rec.url, ["link.created"])
    sales_hook = add_hook(client, auth, rec.url, ["conversion.recorded", "answer.recorded"])
    client.post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x", "utm_medium": "email",
                                       "utm_campaign": "c"}, headers=auth)
    resp = client.post("/api/v1/conversions", json={"external_id": "deal-1", "type": "purchase", "value": "10",
                                                    "currency": "NOK"}, headers=auth)
    assert resp.status_code in (200, 201), resp.json
    client.post("/api/v1/conversions", json={"external_id": "deal-1", "type": "purchase", "value": "10",
                                             "currency": "NOK"}, headers=auth)  # a duplicate: no event
    resp = client.post("/api/v1/self-reports", json={"option": "podcast"}, headers=auth)
    assert resp.status_code in (200, 201), resp.json
    rows = deliveries(local_app)
    assert sorted((d.webhook_id, d.event) for d in rows) == sorted([
        (links_hook["id"], "link.created"), (sales_hook["id"], "conversion.recorded"),
        (sales_hook["id"], "answer.recorded")])
    send_due(local_app)
    bodies = {json.loads(r["body"])["type"]: json.loads(r["body"])["data"] for r in rec.received}
    assert bodies["conversion.recorded"]["external_id"] == "deal-1"
    assert bodies["conversion.recorded"]["currency"] == "NOK"
    assert bodies["answer.recorded"]["option"] == "podcast"
    assert bodies["link.created"]["short_url"].endswith("/r/" + bodies["link.created"]["code"])


def test_no_endpoint_no_delivery(client: Any, auth: dict[str, str], make_link: Any, drain: Any, app: Any) -> None:
    link = make_link()
    client.get(f"/r/{link['code']}", headers={"User-Agent": DESKTOP})
    drain()
    assert deliveries(app) == []


def test_disabled_endpoint_gets_nothing(local_app: Any, api_key: str, receiver: Any) -> None:
    client, auth = local_app.test_client(), bearer(api_key)
    hook = add_hook(client, auth, receiver().url, ["link.created"])
    client.patch(f"/api/v1/webhooks/{hook['id']}", json={"disabled": True}, headers=auth)
    client.post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x",
                                       "utm_medium": "email", "utm_campaign": "c"}, headers=auth)
    assert deliveries(local_app) == []


# ---- retries, same id, never again after 2xx, restart ------------------------------------------------
def test_retries_on_schedule_with_the_same_id_then_never_again(local_app: Any, api_key: str, receiver: Any) -> None:
    client, auth = local_app.test_client(), bearer(api_key)
    rec = receiver(statuses=[500, 302, 200])
    add_hook(client, auth, rec.url, ["link.created"])
    client.post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x",
                                       "utm_medium": "email", "utm_campaign": "c"}, headers=auth)
    before = utcnow()
    assert send_due(local_app) == {"claimed": 1, "delivered": 0, "pending": 1, "failed": 0, "superseded": 0}
    (d,) = deliveries(local_app)
    assert d.status == "pending" and d.attempts == 1 and d.response_status == 500
    assert before + SCHEDULE[1] <= d.next_attempt_at <= utcnow() + SCHEDULE[1]  # 5 s later
    assert send_due(local_app)["claimed"] == 0  # not due yet

    make_due(local_app)
    send_due(local_app)
    (d,) = deliveries(local_app)
    assert d.attempts == 2 and d.response_status == 302 and "redirects are not followed" in d.last_error
    assert d.next_attempt_at - d.last_attempt_at >= SCHEDULE[2] - timedelta(seconds=1)  # 5 min later

    make_due(local_app)
    send_due(local_app)
    (d,) = deliveries(local_app)
    assert d.status == "delivered" and d.attempts == 3 and d.response_status == 200 and d.next_attempt_at is None
    assert len(rec.received) == 3  # the redirect's Location was not followed
    assert len({r["headers"]["webhook-id"] for r in rec.received}) == 1

    make_due(local_app)
    assert send_due(local_app)["claimed"] == 0
    resp = client.post(f"/api/v1/webhook-deliveries/{d.id}/resend", headers=auth)
    assert resp.status_code == 409
    assert len(rec.received) == 3


def test_seven_attempts_then_failed_and_resend(local_app: Any, api_key: str, receiver: Any) -> None:
    client, auth = local_app.test_client(), bearer(api_key)
    rec = receiver(statuses=[503] * 7)
    hook = add_hook(client, auth, rec.url, ["link.created"])
    client.post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x",
                                       "utm_medium": "email", "utm_campaign": "c"}, headers=auth)
    for _ in range(len(SCHEDULE)):
        make_due(local_app)
        send_due(local_app)
    (d,) = deliveries(local_app)
    assert d.status == "failed" and d.attempts == 7 and d.response_status == 503 and d.next_attempt_at is None
    make_due(local_app)
    assert send_due(local_app)["claimed"] == 0
    listed = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries?status=failed", headers=auth).json
    assert [x["id"] for x in listed["items"]] == [d.id] and listed["items"][0]["response_status"] == 503

    resp = client.post(f"/api/v1/webhook-deliveries/{d.id}/resend", headers=auth)
    assert resp.status_code == 202 and resp.json["status"] == "pending" and resp.json["attempts"] == 0
    assert send_due(local_app)["delivered"] == 1
    assert len(rec.received) == 8 and len({r["headers"]["webhook-id"] for r in rec.received}) == 1


def test_a_delivery_survives_a_restart(make_app: Any, api_key: str, receiver: Any) -> None:
    first = make_app(webhook_allow_private_addresses=True)
    client, auth, rec = first.test_client(), bearer(api_key), receiver(statuses=[500])
    add_hook(client, auth, rec.url, ["link.created"])
    client.post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x",
                                       "utm_medium": "email", "utm_campaign": "c"}, headers=auth)
    send_due(first)  # one failed attempt, then the process "stops"
    get_db(first).engine.dispose()
    second = make_app(webhook_allow_private_addresses=True)  # a new app instance on the same database
    make_due(second)
    assert send_due(second)["delivered"] == 1
    first_id, second_id = (r["headers"]["webhook-id"] for r in rec.received)
    assert first_id == second_id


def test_a_stopped_app_leaves_no_thread_that_claims(make_app: Any) -> None:
    """``stop_background`` ends the sender and the drains of an app (the test fixtures call it, so no
    earlier test's app claims a later test's deliveries)."""
    app = make_app(SPOOL_BACKGROUND=True)
    app.test_client().get("/api/v1/links")  # the first request starts the sender
    sender = app.extensions["tracker.webhooks"]
    threads = [sender._thread]
    app.extensions["tracker.redirects"]["spool"].start()
    threads.append(app.extensions["tracker.redirects"]["spool"]._thread)
    assert all(t is not None and t.is_alive() for t in threads)
    stop_background(app)
    assert not any(t.is_alive() for t in threads)


def test_claimed_rows_are_not_claimed_twice(local_app: Any, api_key: str, receiver: Any) -> None:
    client, auth = local_app.test_client(), bearer(api_key)
    add_hook(client, auth, receiver().url, ["link.created"])
    client.post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x",
                                       "utm_medium": "email", "utm_campaign": "c"}, headers=auth)
    with get_db(local_app).Session() as one, get_db(local_app).Session() as two:
        assert len(claim_due(one)) == 1
        assert claim_due(two) == []  # the lease holds it for the first sender


def test_connections_are_kept_between_batches(local_app: Any, api_key: str, receiver: Any) -> None:
    """The sender thread's kept connections carry later deliveries (no new TCP connection per click)."""
    client, auth, rec = local_app.test_client(), bearer(api_key), receiver(keep_alive=True)
    add_hook(client, auth, rec.url, ["link.created"])
    kept = Connections()
    body = {"utm_source": "x", "utm_medium": "email", "utm_campaign": "c"}
    for n in range(3):  # three batches, one delivery each, answered 200 with a small body
        client.post("/api/v1/links", json={"destination": f"https://example.com/{n}", **body}, headers=auth)
        counts = deliver_due(get_db(local_app).Session, True, connections=kept)
        assert counts["delivered"] == 1
    assert len(rec.received) == 3 and len({r["port"] for r in rec.received}) == 1
    kept.close()
    client.post("/api/v1/links", json={"destination": "https://example.com/after", **body}, headers=auth)
    assert send_due(local_app)["delivered"] == 1
    assert rec.received[-1]["port"] != rec.received[0]["port"]  # closed: a new connection
    assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries(local_app))


def test_a_result_for_a_row_claimed_again_is_not_written(local_app: Any, api_key: str) -> None:
    """A sender whose lease ran out (its row was claimed again) writes nothing: counted as superseded."""
    client, auth = local_app.test_client(), bearer(api_key)
    add_hook(client, auth, PUBLIC_TARGET, ["link.created"])
    for n in range(2):
        client.post("/api/v1/links", json={"destination": f"https://example.com/{n}", "utm_source": "x",
                                           "utm_medium": "email", "utm_campaign": "c"}, headers=auth)
    Session = get_db(local_app).Session
    with Session() as s:
        first = claim_due(s)
    with Session() as s:
        again = claim_due(s, now=utcnow() + timedelta(minutes=5))  # past the lease: claimed by another sender
    assert [c.attempts for c in first] == [1, 1] and [c.attempts for c in again] == [2, 2]
    with Session() as s:
        counts = record(s, [(first[0], Outcome(204, None)), (again[1], Outcome(204, None))])
        s.commit()
    assert counts["superseded"] == 1 and counts["delivered"] == 2
    stale, fresh = deliveries(local_app)
    assert (stale.status, stale.attempts) == ("pending", 2) and (fresh.status, fresh.attempts) == ("delivered", 2)


# ---- SSRF at send time, hanging receiver ------------------------------------------------------------
def test_send_time_check_refuses_a_target_that_became_internal(make_app: Any, api_key: str, receiver: Any) -> None:
    local = make_app(webhook_allow_private_addresses=True)
    rec = receiver()
    add_hook(local.test_client(), bearer(api_key), rec.url, ["link.created"])
    strict = make_app()  # the setting is off where the deliveries are sent
    strict.test_client().post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x",
                                                     "utm_medium": "email", "utm_campaign": "c"},
                              headers=bearer(api_key))
    send_due(strict)
    (d,) = deliveries(strict)
    assert rec.received == [] and d.status == "pending" and d.response_status is None
    assert d.last_error.startswith("refused")


def test_send_time_check_resolves_names(make_app: Any, api_key: str, receiver: Any) -> None:
    """A name that resolves to 127.0.0.1 (as a rebinding DNS name would) is refused when sent."""
    rec = receiver()
    with get_db(make_app()).Session() as s:
        s.add(Webhook(url=rec.url.replace("127.0.0.1", "localhost").replace("http:", "https:"),
                      events=["link.created"], secret="whsec_" + "B" * 32))
        s.commit()
    strict = make_app()
    strict.test_client().post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x",
                                                     "utm_medium": "email", "utm_campaign": "c"},
                              headers=bearer(api_key))
    send_due(strict)
    (d,) = deliveries(strict)
    assert rec.received == [] and "127.0.0.1" in d.last_error and "loopback" in d.last_error


def test_a_hanging_receiver_does_not_hold_the_others(local_app: Any, api_key: str, receiver: Any) -> None:
    client, auth = local_app.test_client(), bearer(api_key)
    stuck, fine = receiver(hang=True), receiver()
    add_hook(client, auth, stuck.url, ["link.created"])
    add_hook(client, auth, fine.url, ["link.created"])
    client.post("/api/v1/links", json={"destination": "https://example.com/a", "utm_source": "x",
                                       "utm_medium": "email", "utm_campaign": "c"}, headers=auth)
    started = time.monotonic()
    counts = send_due(local_app, timeout=1.0)
    assert time.monotonic() - started < 4
    assert counts["delivered"] == 1 and counts["pending"] == 1
    hung = [d for d in deliveries(local_app) if d.status == "pending"][0]
    assert hung.response_status is None and "Timeout" in hung.last_error


# ---- CLI --------------------------------------------------------------------------------------------
def test_cli_add_list_deliver(local_app: Any, receiver: Any) -> None:
    runner = local_app.test_cli_runner()
    rec = receiver()
    result = runner.invoke(args=["webhooks", "add", rec.url, "--event", "link.created"])
    assert result.exit_code == 0, result.output
    assert "whsec_" in result.output
    bad = runner.invoke(args=["webhooks", "add", "ftp://93.184.216.34/x", "--event", "link.created"])
    assert bad.exit_code != 0 and "(url)" in bad.output
    result = runner.invoke(args=["webhooks", "list"])
    assert rec.url in result.output and "pending 0" in result.output
    made = runner.invoke(args=["links", "create", "--destination", "https://example.com/a", "--source", "x",
                               "--medium", "email", "--utm-campaign", "c"])
    assert made.exit_code == 0, made.output
    assert [d.event for d in deliveries(local_app)] == ["link.created"]
    result = runner.invoke(args=["webhooks", "deliver", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    assert "delivered 1" in result.output and len(rec.received) == 1
    assert runner.invoke(args=["webhooks", "deliver"]).output.startswith("attempted 0")
