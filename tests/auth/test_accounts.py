"""Accounts and roles: password hashing, sign-in and sign-out, session rotation, CSRF, the sign-in rate
limit, key lifecycle, disabled accounts, staff scoping, the accounts/keys API and CLI, migration 0004."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from accounts_support import PASSWORD, bearer, make_account, make_key, sign_in_as
from argon2 import PasswordHasher
from pg_support import postgres_schema

from tracker import create_app
from tracker.auth import service
from tracker.auth.models import Account, ApiKey, PageSession
from tracker.db import get_db, make_engine
from tracker.errors import Conflict, ValidationError
from tracker.migrate import current_revision, upgrade

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: Any, path: str = "/login") -> str:
    match = TOKEN.search(client.get(path).text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def sign_in(client: Any, email: str, password: str, next_: str = "", **environ: Any) -> Any:
    token = csrf_of(client)
    target = f"/login?next={next_}" if next_ else "/login"
    return client.post(target, data={"email": email, "password": password, "csrf_token": token},
                       environ_base=environ)


@pytest.fixture
def person(session: Any) -> Account:
    """An analyst who signs in with PASSWORD (hashed for real: this file tests the hashing)."""
    return service.create_account(session, " Kari.Nordmann@Example.NO ", "analyst", PASSWORD)


# ---- accounts and passwords -----------------------------------------------------------------------

def test_passwords_are_argon2id_hashes_and_emails_are_normalised(session, person):
    assert person.email == "kari.nordmann@example.no"
    assert person.password_hash.startswith("$argon2id$") and PASSWORD not in person.password_hash
    assert PasswordHasher().verify(person.password_hash, PASSWORD)
    assert service.authenticate(session, "KARI.nordmann@example.no", PASSWORD).id == person.id
    assert service.authenticate(session, person.email, PASSWORD + "x") is None
    assert service.authenticate(session, "nobody@example.no", PASSWORD) is None
    assert person.last_sign_in_at is not None


@pytest.mark.parametrize(("email", "role", "password", "field"), [
    ("not-an-address", "analyst", PASSWORD, "email"),
    ("", "analyst", PASSWORD, "email"),
    ("a@example.com", "owner", PASSWORD, "role"),
    ("a@example.com", "analyst", "short", "password"),
    ("a@example.com", "analyst", "x" * 1025, "password"),
])
def test_bad_account_fields_are_named(session, email, role, password, field):
    with pytest.raises(ValidationError) as err:
        service.create_account(session, email, role, password)
    assert err.value.field == field
    assert session.scalar(sa.select(sa.func.count()).select_from(Account)) == 0


def test_email_is_unique_whatever_its_case(session, person):
    with pytest.raises(Conflict) as err:
        service.create_account(session, "KARI.NORDMANN@example.no", "admin")
    assert err.value.field == "email"


def test_an_old_hash_is_upgraded_on_sign_in(session, person):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    person.password_hash = weak.hash(PASSWORD)
    session.commit()
    assert service.authenticate(session, person.email, PASSWORD) is not None
    assert not PasswordHasher().check_needs_rehash(person.password_hash)
    assert service.authenticate(session, person.email, PASSWORD) is not None


def test_first_start_makes_an_admin_who_can_sign_in_and_a_key(app, session, client):
    account, password, key = service.bootstrap_admin(session)
    assert account.role == "admin" and len(password) >= service.MIN_PASSWORD
    assert service.bootstrap_admin(session) is None  # only on an installation without accounts
    assert client.get("/api/v1/accounts", headers=bearer(key)).status_code == 200
    assert sign_in(client, account.email, password).status_code == 302


# ---- sign-in, sessions, CSRF ----------------------------------------------------------------------

def test_wrong_password_and_unknown_email_get_the_same_401(client, person):
    for email, password in ((person.email, "wrong password!"), ("nobody@example.no", PASSWORD)):
        resp = sign_in(client, email, password)
        assert resp.status_code == 401
        assert "do not match an active account" in resp.text
    assert client.get("/").status_code == 302


def test_sign_in_and_go_where_you_were_going(client, person):
    target = client.get("/answers").headers["Location"]
    assert target.startswith("/login?next=")
    resp = client.post(target, data={"email": person.email, "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert resp.status_code == 302 and resp.headers["Location"].rstrip("?") == "/answers"
    page = client.get("/")
    assert page.status_code == 200 and "Sign out" in page.text and person.email in page.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/"])
def test_sign_in_never_redirects_off_site(client, person, target):
    assert sign_in(client, person.email, PASSWORD, next_=target).headers["Location"] == "/"


def test_signing_in_rotates_the_session(client, person):
    before = csrf_of(client)
    with client.session_transaction() as sess:
        sess["planted"] = "by someone else"
    assert sign_in(client, person.email, PASSWORD).status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess and sess["account_id"] == person.id
        signed_in = dict(sess)
    # the page-session helper of the other tests stores what signing in stores
    other = sign_in_as(client, "analyst")
    with client.session_transaction() as sess:
        assert set(sess) == set(signed_in) - {"csrf_token"} and sess["account_id"] == other.id
    assert csrf_of(client, "/") != before


def test_sign_in_form_needs_its_csrf_token(client, person):
    resp = client.post("/login", data={"email": person.email, "password": PASSWORD})
    assert resp.status_code == 400 and "The form has expired" in resp.text
    assert client.get("/").status_code == 302


def test_sign_out_then_the_pages_ask_again(client, person):
    assert sign_in(client, person.email, PASSWORD).status_code == 302
    resp = client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert resp.status_code == 303 and client.get("/").status_code == 302


def test_signing_out_ends_the_session_on_every_app_server(make_app, session, person):
    # Two app servers sharing the database (and the secret key, as a deployment's workers do): the
    # cookie of a session signed out on one is refused by both, though its signature still holds.
    one, two = make_app(), make_app()
    client, elsewhere = one.test_client(), two.test_client()
    assert sign_in(client, person.email, PASSWORD).status_code == 302
    cookie = client.get_cookie("trk_session").value
    elsewhere.set_cookie("trk_session", cookie)
    assert elsewhere.get("/").status_code == 200  # the same session, served by the other server
    assert client.post("/logout", data={"csrf_token": csrf_of(client, "/")}).status_code == 303
    replay = one.test_client()
    replay.set_cookie("trk_session", cookie)  # a copy of the cookie taken before signing out
    for c in (replay, elsewhere):
        assert c.get("/").status_code == 302 and "/login" in c.get("/").headers["Location"]
    # only that session ended: another sign-in of the same account goes on
    other = two.test_client()
    assert sign_in(other, person.email, PASSWORD).status_code == 302
    assert other.get("/").status_code == 200
    assert session.scalar(sa.select(sa.func.count()).select_from(PageSession)) == 1


def test_old_page_sessions_are_deleted_at_the_next_sign_in(make_app, session, person):
    app = make_app()
    client = app.test_client()
    assert sign_in(client, person.email, PASSWORD).status_code == 302
    session.execute(sa.update(PageSession).values(created_at=datetime(2020, 1, 1, tzinfo=UTC)))
    session.commit()
    assert client.get("/").status_code == 302  # older than the session lifetime: gone at the next sign-in
    assert sign_in(app.test_client(), person.email, PASSWORD).status_code == 302
    assert session.scalar(sa.select(sa.func.count()).select_from(PageSession)) == 1


def test_password_less_and_disabled_accounts_cannot_sign_in(client, session, person):
    keys_only = service.create_account(session, "robot@example.no", "ingest")
    assert sign_in(client, keys_only.email, "").status_code == 401
    service.update_account(session, person.id, disabled=True)
    assert sign_in(client, person.email, PASSWORD).status_code == 401


def test_disabling_or_a_new_password_ends_page_sessions(make_app, session, person):
    app = make_app()
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        assert sign_in(client, person.email, PASSWORD).status_code == 302
        assert client.get("/").status_code == 200
    service.update_account(session, person.id, password="a brand new password")
    assert first.get("/").status_code == 302  # signed out everywhere
    assert sign_in(first, person.email, "a brand new password").status_code == 302
    service.update_account(session, person.id, disabled=True)
    assert first.get("/").status_code == 302


def test_a_page_session_ends_12_hours_after_sign_in(client, person):
    assert sign_in(client, person.email, PASSWORD).status_code == 302
    with client.session_transaction() as sess:
        sess["signed_in_at"] -= 12 * 3600 - 60
    assert client.get("/").status_code == 200  # a minute to go
    with client.session_transaction() as sess:
        sess["signed_in_at"] -= 61
    assert client.get("/").status_code == 302


# ---- the sign-in rate limit -----------------------------------------------------------------------

def test_sign_in_is_rate_limited_per_address_and_redirects_never(make_app, person, api_key):
    app = make_app(login_rate_limit="3 per minute")
    client = app.test_client()
    here = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(3):
        assert sign_in(client, person.email, "wrong password!", **here).status_code == 401
    resp = sign_in(client, person.email, PASSWORD, **here)  # right, but over the limit
    assert resp.status_code == 429 and "Too many sign-in attempts" in resp.text
    assert 1 <= int(resp.headers["Retry-After"]) <= 60 and resp.mimetype == "text/html"
    assert client.get("/").status_code == 302
    # another address still gets in; showing the form is not an attempt
    assert client.get("/login", environ_base=here).status_code == 200
    assert sign_in(app.test_client(), person.email, PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 302
    # redirects from the limited address are answered as ever
    link = app.test_client().post("/api/v1/links", headers=bearer(api_key), json={
        "destination": "https://example.com/", "utm_source": "expo", "utm_medium": "poster",
        "utm_campaign": "expo"}).json
    for _ in range(20):
        assert client.get(f"/q/{link['code']}", environ_base=here).status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(make_app, person):
    app = make_app(login_rate_limit="2 per minute", trusted_proxy_count=1)
    client = app.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for visitor in ("203.0.113.1", "203.0.113.1"):
        client.environ_base = {**proxy, "HTTP_X_FORWARDED_FOR": visitor}
        assert sign_in(client, person.email, "wrong password!").status_code == 401
    assert sign_in(client, person.email, PASSWORD).status_code == 429
    client.environ_base = {**proxy, "HTTP_X_FORWARDED_FOR": "203.0.113.2"}  # another visitor, same proxy
    assert sign_in(client, person.email, PASSWORD).status_code == 302


def _address() -> str:
    """A client address of this test alone (counters in a shared storage outlive a test)."""
    n = uuid.uuid4().int
    return f"198.18.{n % 250}.{(n >> 8) % 250 + 1}"


def test_limits_count_per_worker_with_memory_storage(make_app, person):
    here = {"REMOTE_ADDR": _address()}
    first, second = (make_app(login_rate_limit="2 per minute") for _ in range(2))  # two workers
    for _ in range(2):
        assert sign_in(first.test_client(), person.email, "wrong password!", **here).status_code == 401
    assert sign_in(first.test_client(), person.email, PASSWORD, **here).status_code == 429
    assert sign_in(second.test_client(), person.email, PASSWORD, **here).status_code == 302  # its own counters
    # sign-in, /ask and /collect count apart
    assert first.test_client().post("/ask", data={}, environ_base=here).status_code != 429


def test_a_shared_storage_makes_the_limit_hold_across_workers(make_app, person):
    import redis
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379 "
                    "(the machine starts one; see docs/reference/accounts-and-roles.md)")
    here = {"REMOTE_ADDR": _address()}
    first, second = (make_app(login_rate_limit="3 per minute", rate_limit_storage=url) for _ in range(2))
    assert sign_in(first.test_client(), person.email, "wrong password!", **here).status_code == 401
    assert sign_in(second.test_client(), person.email, "wrong password!", **here).status_code == 401
    assert sign_in(first.test_client(), person.email, "wrong password!", **here).status_code == 401
    assert sign_in(second.test_client(), person.email, PASSWORD, **here).status_code == 429


# ---- API keys -------------------------------------------------------------------------------------

def test_key_lifecycle_over_the_api(client, role_key, api_key):
    own = role_key("marketer")
    made = client.post("/api/v1/keys", json={"name": "CI upload"}, headers=bearer(own))
    assert made.status_code == 201
    body = made.json
    assert body["role"] == "marketer" and body["key"].startswith(f"trk_{body['prefix']}_")
    listed = client.get("/api/v1/keys", headers=bearer(own)).json["items"]
    assert {k["name"] for k in listed} == {"tests (marketer)", "CI upload"}  # only its own
    assert all("key" not in k for k in listed) and body["key"] not in str(listed)
    assert client.get("/api/v1/links", headers=bearer(body["key"])).status_code == 200
    used = client.get("/api/v1/keys", headers=bearer(own)).json["items"]
    assert next(k for k in used if k["name"] == "CI upload")["last_used_at"] is not None
    # someone else's key is not there to revoke; one's own is
    other = client.get("/api/v1/keys", headers=bearer(api_key)).json["items"]
    admin_key_id = next(k["id"] for k in other if k["role"] == "admin")
    assert client.delete(f"/api/v1/keys/{admin_key_id}", headers=bearer(own)).status_code == 404
    revoked = client.delete(f"/api/v1/keys/{body['prefix']}", headers=bearer(own))
    assert revoked.status_code == 200 and revoked.json["active"] is False
    assert client.get("/api/v1/links", headers=bearer(body["key"])).status_code == 401
    # only admins make keys for other accounts
    refused = client.post("/api/v1/keys", json={"name": "x", "account": "1"}, headers=bearer(own))
    assert refused.status_code == 403 and refused.json["error"]["field"] == "account"


def test_admins_make_keys_for_others_and_see_every_key(client, session, api_key):
    robot = make_account(session, "ingest", email="robot@example.com")
    made = client.post("/api/v1/keys", json={"name": "crm", "account": "robot@example.com"}, headers=bearer(api_key))
    assert made.status_code == 201 and made.json["account"] == robot.email and made.json["role"] == "ingest"
    assert client.get("/api/v1/reports/funnel", headers=bearer(made.json["key"])).status_code == 403
    every = client.get("/api/v1/keys", headers=bearer(api_key)).json["items"]
    assert {k["account"] for k in every} >= {robot.email}


def test_keys_of_a_disabled_account_stop_working(client, session, api_key):
    account = make_account(session, "ingest")
    _, key = service.create_key(session, account, "crm")
    assert client.get("/api/v1/keys", headers=bearer(key)).status_code == 200
    resp = client.patch(f"/api/v1/accounts/{account.id}", json={"disabled": True}, headers=bearer(api_key))
    assert resp.status_code == 200 and resp.json["disabled"] is True
    assert client.get("/api/v1/keys", headers=bearer(key)).status_code == 401
    client.patch(f"/api/v1/accounts/{account.id}", json={"disabled": False}, headers=bearer(api_key))
    assert client.get("/api/v1/keys", headers=bearer(key)).status_code == 200


# ---- the accounts API -----------------------------------------------------------------------------

def test_accounts_api(client, api_key, campaign):
    auth = bearer(api_key)
    made = client.post("/api/v1/accounts", headers=auth, json={
        "email": "Staff@Example.com", "role": "staff", "password": PASSWORD, "campaigns": [campaign["slug"]]})
    assert made.status_code == 201, made.json
    assert made.json["email"] == "staff@example.com" and made.json["campaigns"] == [campaign["slug"]]
    assert made.json["can_sign_in"] is True and "password" not in made.json
    again = client.post("/api/v1/accounts", headers=auth, json={"email": "STAFF@example.com", "role": "analyst"})
    assert again.status_code == 409 and again.json["error"]["field"] == "email"
    bad = client.post("/api/v1/accounts", headers=auth, json={"email": "a@example.com", "role": "analyst",
                                                              "campaigns": [campaign["slug"]]})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "campaigns"
    account_id = made.json["id"]
    removed = client.delete(f"/api/v1/accounts/{account_id}/campaigns/{campaign['slug']}", headers=auth)
    assert removed.json["campaigns"] == []
    added = client.post(f"/api/v1/accounts/{account_id}/campaigns", json={"campaigns": [str(campaign["id"])]},
                        headers=auth)
    assert added.json["campaigns"] == [campaign["slug"]]
    missing = client.post(f"/api/v1/accounts/{account_id}/campaigns", json={"campaigns": ["nope"]}, headers=auth)
    assert missing.status_code == 404 and missing.json["error"]["field"] == "campaigns"
    changed = client.patch(f"/api/v1/accounts/{account_id}", json={"role": "marketer"}, headers=auth)
    assert changed.json["role"] == "marketer"
    assert len(client.get("/api/v1/accounts", headers=auth).json["items"]) == 2
    me = client.get("/api/v1/accounts/me", headers=auth).json
    assert me["role"] == "admin"
    # an admin cannot lock themselves out
    for change in ({"disabled": True}, {"role": "analyst"}):
        resp = client.patch(f"/api/v1/accounts/{me['id']}", json=change, headers=auth)
        assert resp.status_code == 422 and resp.json["error"]["field"] == next(iter(change))


# ---- staff: only their campaigns ------------------------------------------------------------------

@pytest.fixture
def two_campaigns(client, auth):
    made = {}
    for name in ("Oslo Expo", "Bergen Fair"):
        c = client.post("/api/v1/campaigns", json={"name": name}, headers=auth).json
        link = client.post("/api/v1/links", headers=auth, json={
            "destination": "https://example.com/", "campaign": c["slug"], "utm_source": "expo",
            "utm_medium": "poster", "kind": "print", "label": name}).json
        made[c["slug"]] = {"campaign": c, "link": link}
    return made


def test_staff_see_and_print_only_their_campaigns(client, role_key, two_campaigns):
    staff = bearer(role_key("staff", ["oslo-expo"]))
    mine, theirs = two_campaigns["oslo-expo"], two_campaigns["bergen-fair"]
    assert [c["slug"] for c in client.get("/api/v1/campaigns", headers=staff).json["items"]] == ["oslo-expo"]
    listed = client.get("/api/v1/links", headers=staff).json
    assert [link["code"] for link in listed["items"]] == [mine["link"]["code"]] and listed["total"] == 1
    assert client.get("/api/v1/links?campaign=bergen-fair", headers=staff).status_code == 403
    for path in (f"/api/v1/links/{theirs['link']['code']}", f"/api/v1/links/{theirs['link']['code']}/qr.png",
                 f"/api/v1/campaigns/{theirs['campaign']['id']}",
                 f"/api/v1/campaigns/{theirs['campaign']['id']}/qr-sheet.pdf"):
        resp = client.get(path, headers=staff)
        assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden", path
    for path in (f"/api/v1/links/{mine['link']['code']}", f"/api/v1/links/{mine['link']['code']}/qr.svg",
                 f"/api/v1/campaigns/{mine['campaign']['id']}/qr-sheet.pdf"):
        assert client.get(path, headers=staff).status_code == 200, path


def test_staff_create_offline_links_in_their_campaigns_only(client, role_key, two_campaigns):
    staff = bearer(role_key("staff", ["oslo-expo"]))
    base = {"destination": "https://example.com/stand", "utm_source": "expo", "utm_medium": "poster"}
    cases = [({"campaign": "oslo-expo", "kind": "online"}, 403, "kind"),
             ({"campaign": "bergen-fair", "kind": "event"}, 403, "campaign"),
             ({"kind": "event", "utm_campaign": "expo"}, 403, "campaign"),
             ({"campaign": "oslo-expo", "kind": "event"}, 201, None)]
    for fields, status, field in cases:
        resp = client.post("/api/v1/links", json={**base, **fields}, headers=staff)
        assert resp.status_code == status, (fields, resp.json)
        if field:
            assert resp.json["error"]["field"] == field
    assert client.get("/api/v1/links", headers=staff).json["total"] == 2


def test_a_refusal_never_names_a_link_the_staff_member_cannot_see(client, role_key, two_campaigns):
    # The same tags as Bergen Fair's link, posted into Bergen Fair by staff of Oslo Expo only: 403, as any
    # other post there, never the 409 whose error.existing would hand out that link's code. The same for a
    # slug taken there, and for an online link (staff may only make offline ones) duplicating one.
    staff = bearer(role_key("staff", ["oslo-expo"]))
    theirs = two_campaigns["bergen-fair"]["link"]
    same = {"destination": "https://example.com/", "campaign": "bergen-fair", "utm_source": "expo",
            "utm_medium": "poster", "kind": "print", "label": "Bergen Fair"}
    taken = {**same, "label": "another", "slug": theirs["code"]}
    online = {**same, "kind": "online"}
    for body, field in ((same, "campaign"), (taken, "campaign"), (online, "kind")):
        resp = client.post("/api/v1/links", json=body, headers=staff)
        assert resp.status_code == 403, (body, resp.json)
        assert resp.json["error"]["field"] == field and theirs["code"] not in resp.get_data(as_text=True)
    # Within their own campaign the duplicate is still found (and named: they may see it).
    mine = two_campaigns["oslo-expo"]["link"]
    resp = client.post("/api/v1/links", headers=staff, json={**same, "campaign": "oslo-expo", "label": "Oslo Expo"})
    assert resp.status_code == 409 and resp.json["error"]["existing"] == mine["code"]


def test_staff_pages_show_only_their_campaigns(page_client, two_campaigns):
    staff = page_client("staff", ["oslo-expo"])
    index = staff.get("/").text
    assert "Oslo Expo" in index and "Bergen Fair" not in index
    assert "New campaign" not in index  # staff do not create campaigns
    assert staff.get(f"/campaigns/{two_campaigns['bergen-fair']['campaign']['id']}").status_code == 403
    builder = staff.get("/links/new").text
    assert '<option value="online"' not in builder and '<option value="print"' in builder
    assert "Bergen Fair" not in builder


def test_a_role_without_pages_sees_a_note(page_client):
    page = page_client("ingest").get("/")
    assert page.status_code == 200 and "has no pages to show" in page.text
    assert "New link" not in page.text and "Reports" not in page.text


# ---- command line ---------------------------------------------------------------------------------

def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_cli_accounts_and_keys(runner, client, campaign):
    made = ok(runner.invoke(args=["accounts", "create", "--email", "Ola@Example.no", "--role", "staff",
                                  "--password-stdin"], input=f"{PASSWORD}\n"))
    assert made.stdout.split("\t")[1:] == ["ola@example.no", "staff\n"]
    prompted = ok(runner.invoke(args=["accounts", "create", "--email", "kari@example.no", "--role", "analyst"],
                                input=f"{PASSWORD}\n{PASSWORD}\n"))
    assert "kari@example.no" in prompted.stdout
    ok(runner.invoke(args=["accounts", "assign", "ola@example.no", campaign["slug"]]))
    listed = ok(runner.invoke(args=["accounts", "list"])).stdout
    assert re.search(rf"\tola@example.no\tstaff\tactive\t{campaign['slug']}\t", listed)
    assert sign_in(client, "ola@example.no", PASSWORD).status_code == 302

    created = ok(runner.invoke(args=["keys", "create", "--account", "ola@example.no", "--name", "booth tablet"]))
    key = created.stdout.strip()
    assert re.fullmatch(r"trk_[0-9a-f]{8}_[A-Za-z0-9_-]{32}", key)
    assert "cannot be shown again" in created.stderr and key not in created.stderr
    assert client.get("/api/v1/links", headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/reports/funnel", headers=bearer(key)).status_code == 403
    keys = ok(runner.invoke(args=["keys", "list"])).stdout
    prefix = key.split("_")[1]
    assert f"\t{prefix}\tactive\tbooth tablet\tola@example.no\tstaff\t" in keys and key.split("_", 2)[2] not in keys
    assert ok(runner.invoke(args=["keys", "revoke", prefix])).stdout.strip() == f"key {prefix} revoked"
    assert client.get("/api/v1/links", headers=bearer(key)).status_code == 401

    ok(runner.invoke(args=["accounts", "unassign", "ola@example.no", campaign["slug"]]))
    ok(runner.invoke(args=["accounts", "set", "ola@example.no", "--disable"]))
    assert "\tdisabled\t" in ok(runner.invoke(args=["accounts", "list"])).stdout


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["accounts", "create", "--email", "x@example.com", "--role", "staff", "--password-stdin"], "short\n",
     "password must have at least 12 characters (password)"),
    (["accounts", "create", "--email", "nope", "--role", "staff", "--no-password"], "", "(email)"),
    (["accounts", "assign", "nobody@example.com", "c"], "", "no account nobody@example.com (account)"),
    (["keys", "create", "--account", "nobody@example.com", "--name", "x"], "", "(account)"),
    (["keys", "revoke", "nope"], "", "no API key nope (key)"),
])
def test_cli_errors_name_the_field_and_exit_non_zero(runner, args, stdin, message):
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0 and message in result.output


def test_cli_never_takes_a_password_as_an_argument(runner):
    result = runner.invoke(args=["accounts", "create", "--email", "x@example.com", "--role", "admin",
                                 "--password", PASSWORD])
    assert result.exit_code != 0 and "No such option" in result.output


# ---- migration 0004 of the keys made before accounts ----------------------------------------------

@pytest.fixture(params=["sqlite", "postgres"])
def old_database(request, tmp_path):
    """An empty database at revision 0003 (before accounts), on SQLite or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with postgres_schema("trk_mig") as url:
        yield url


def test_keys_from_before_accounts_keep_working_as_an_admin_without_a_password(old_database, tmp_path):
    engine = make_engine(old_database)
    upgrade(engine, "0003")
    plain = "trk_0a1b2c3d_" + "k" * 32
    import hashlib
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO api_keys (name, prefix, key_hash, created_at) "
                             "VALUES ('old', '0a1b2c3d', :h, '2026-01-01 00:00:00')"),
                     {"h": hashlib.sha256(plain.encode()).hexdigest()})
    upgrade(engine, "0004")
    assert current_revision(engine) == "0004"
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT email, role, password_hash, disabled FROM accounts")).all()
        owners = conn.execute(sa.text("SELECT account_id FROM api_keys")).scalars().all()
    assert [tuple(r) for r in rows] == [("legacy-keys@tracker.invalid", "admin", None, False)]
    assert owners and None not in owners
    upgrade(engine)
    engine.dispose()
    app = create_app({"database_url": old_database, "instance_path": str(tmp_path / "instance"),
                      "secret_key": "s", "ip_hash_secret": "i", "SPOOL_BACKGROUND": False})
    client = app.test_client()
    assert client.get("/api/v1/accounts", headers=bearer(plain)).status_code == 200  # still an admin
    assert sign_in(client, "legacy-keys@tracker.invalid", "").status_code == 401  # no password to sign in with
    with get_db(app).Session() as s:
        assert service.bootstrap_admin(s) is None  # the installation has an admin already
    get_db(app).engine.dispose()


def test_a_database_without_keys_gets_no_legacy_account(old_database):
    engine = make_engine(old_database)
    upgrade(engine, "0003")
    upgrade(engine, "0004")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM accounts")).scalar() == 0
    engine.dispose()


def test_key_rows_belong_to_accounts(session, api_key):
    key = session.scalar(sa.select(ApiKey))
    assert key.account.role == "admin" and key.account_id == key.account.id
    assert make_key(session, "analyst") != api_key


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(app, session):
    only = make_account(session, "admin", email="only-admin@example.com")
    for change, field in (({"disabled": True}, "disabled"), ({"role": "analyst"}, "role")):
        with pytest.raises(ValidationError) as err:
            service.update_account(session, only.email, **change)
        assert err.value.field == field and "last enabled admin" in err.value.message
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "set", only.email, "--disable"])
    assert result.exit_code != 0 and "last enabled admin" in result.output
    session.expire_all()
    assert session.get(Account, only.id).disabled is False

    make_account(session, "admin", email="second-admin@example.com")
    assert runner.invoke(args=["accounts", "set", only.email, "--disable"]).exit_code == 0
    with pytest.raises(ValidationError):  # now the second one is the last
        service.update_account(session, "second-admin@example.com", role="marketer")

