"""``/r/`` and ``/q/`` routed by the request's Host: per-domain links, unknown hosts, not-found URLs, trusted hosts,
and the domain map under database failure (Flask's test client; a real server is in test_live_server.py)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pg_support
import pytest
import sqlalchemy as sa
from accounts_support import make_key
from domains_support import BRAND, EVENT, LINK, on

from tracker.config import normalise_database_url
from tracker.db import get_db
from tracker.domains.models import Domain
from tracker.redirects.cache import (
    LAST_KNOWN_FILE,
    RETRY_SECONDS,
    DomainMap,
    DomainRoute,
    LastKnownLinks,
    LinkCache,
    LinkUnavailable,
    lookup_sessions,
)
from tracker.redirects.models import Click, OrphanVisit

PUBLIC_HOST = "go.example.com"


def landing(resp: Any) -> tuple[str, str]:
    """(host and path of the Location, its tid or "")."""
    location = urlsplit(resp.headers["Location"])
    return location.netloc + location.path, parse_qs(location.query).get("tid", [""])[0]


@pytest.fixture
def fair(client, auth, brand, event) -> dict[str, dict[str, Any]]:
    """The code ``fair`` on three domains, each going to its own page."""
    links = {}
    for host, page in ((BRAND, "brand"), (EVENT, "event"), (None, "default")):
        body = {**LINK, "destination": f"https://example.com/{page}", "slug": "fair"}
        if host:
            body["domain"] = host
        resp = client.post("/api/v1/links", json=body, headers=auth)
        assert resp.status_code == 201, resp.json
        links[host or PUBLIC_HOST] = resp.json
    return links


def test_one_domain_installs_answer_on_any_host(client, make_link):
    link = make_link(slug="solo")
    for host in ("go.example.com", "localhost", "127.0.0.1:5000", "anything.example"):
        resp = client.get("/r/solo", headers=on(host))
        assert resp.status_code == 302 and landing(resp)[0] == "example.com/landing", host
    assert link["short_url"] == "https://go.example.com/r/solo"


def test_each_host_gets_its_own_domains_link(client, fair, drain, session):
    for host, page in ((BRAND, "brand"), (EVENT, "event"), (PUBLIC_HOST, "default"),
                       ("Go.Brand.NO:8080", "brand"), ("go.brand.no.", "brand")):
        for prefix in ("r", "q"):
            resp = client.get(f"/{prefix}/FAIR", headers=on(host))
            assert resp.status_code == 302, (host, prefix)
            path, tid = landing(resp)
            assert path == f"example.com/{page}" and tid, (host, prefix)
    drain()
    counted = session.execute(sa.select(Click.link_id, Click.via, sa.func.count()).group_by(Click.link_id, Click.via))
    by_link = {(link_id, via): n for link_id, via, n in counted}
    assert by_link == {(fair[BRAND]["id"], "link"): 3, (fair[BRAND]["id"], "qr"): 3,
                       (fair[EVENT]["id"], "link"): 1, (fair[EVENT]["id"], "qr"): 1,
                       (fair[PUBLIC_HOST]["id"], "link"): 1, (fair[PUBLIC_HOST]["id"], "qr"): 1}


def test_an_unknown_host_is_404_once_domains_exist(client, fair, drain, session):
    for host in ("evil.example", "localhost", "brand.no", "xgo.brand.no"):
        resp = client.get("/r/fair", headers=on(host))
        assert resp.status_code == 404, host
        assert b"No short links on this address" in resp.data
        assert client.head("/q/fair", headers=on(host)).status_code == 404
    assert drain() == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(OrphanVisit)) == 0  # not a visit of ours


def test_the_link_cache_is_keyed_by_domain(app, client, fair):
    for host in (BRAND, EVENT, PUBLIC_HOST):
        client.get("/r/fair", headers=on(host))
    cache: LinkCache = app.extensions["tracker.redirects"]["cache"]
    with get_db(app).Session() as s:
        ids = dict(s.execute(sa.select(Domain.host, Domain.id)).all())
    assert set(cache._entries) == {"fair", f"{ids[BRAND]}/fair", f"{ids[EVENT]}/fair"}
    assert cache._entries[f"{ids[EVENT]}/fair"].snapshot.id == fair[EVENT]["id"]


def test_unknown_codes_go_to_their_domains_not_found_url(client, fair, drain, session):
    resp = client.get("/r/nope42", headers=on(BRAND))
    assert resp.status_code == 302 and resp.headers["Location"] == "https://brand.example/"  # no tid, no cookie
    assert "Set-Cookie" not in resp.headers
    assert client.head("/q/nope42", headers=on(BRAND)).headers["Location"] == "https://brand.example/"
    resp = client.get("/q/nope43", headers=on(EVENT))  # no not-found URL: the 404 page
    assert resp.status_code == 404 and b"nope43" in resp.data
    resp = client.get("/r/nope44", headers=on(PUBLIC_HOST))  # the default domain, setting empty: 404
    assert resp.status_code == 404
    assert drain() == 3
    assert session.scalar(sa.select(sa.func.count()).select_from(Click)) == 0  # orphans are not clicks
    ids = dict(session.execute(sa.select(Domain.host, Domain.id)).all())
    orphans = {(o.code, o.domain_id, o.via) for o in session.scalars(sa.select(OrphanVisit))}
    assert orphans == {("nope42", ids[BRAND], "link"), ("nope43", ids[EVENT], "qr"), ("nope44", None, "link")}


def test_the_not_found_url_setting_is_the_default_domains(make_app):
    app = make_app(not_found_url="https://example.com/lost?from=qr")
    client = app.test_client()
    resp = client.get("/q/nothere", headers=on(PUBLIC_HOST))
    assert resp.status_code == 302 and resp.headers["Location"] == "https://example.com/lost?from=qr"
    assert client.head("/r/nothere").headers["Location"] == "https://example.com/lost?from=qr"  # not recorded
    assert app.extensions["tracker.redirects"]["spool"].drain() == 1
    with get_db(app).Session() as s:
        assert [(o.code, o.domain_id) for o in s.scalars(sa.select(OrphanVisit))] == [("nothere", None)]


def test_domain_changes_reach_the_routing_at_once_on_this_worker(client, auth, make_link):
    make_link(slug="soon")
    assert client.get("/r/soon", headers=on(BRAND)).status_code == 302  # no domains yet: the default domain
    assert client.post("/api/v1/domains", json={"host": BRAND}, headers=auth).status_code == 201
    resp = client.get("/r/soon", headers=on(BRAND))  # now go.brand.no's links, which have no "soon"
    assert resp.status_code == 404 and b"soon" in resp.data
    assert client.get("/r/soon", headers=on("elsewhere.example")).status_code == 404
    resp = client.patch(f"/api/v1/domains/{BRAND}", json={"not_found_url": "https://brand.example/"}, headers=auth)
    assert resp.status_code == 200
    assert client.get("/r/soon", headers=on(BRAND)).headers["Location"] == "https://brand.example/"
    assert client.delete(f"/api/v1/domains/{BRAND}", headers=auth).status_code == 204
    assert client.get("/r/soon", headers=on(BRAND)).status_code == 302  # no domains left: any host again


def test_trusted_hosts_grow_with_the_domains(make_app):
    app = make_app(trusted_hosts=(PUBLIC_HOST, ".example.net"))
    client = app.test_client()
    with get_db(app).Session() as s:
        auth = {"Authorization": f"Bearer {make_key(s, 'admin')}"}
    headers = {**auth, **on(PUBLIC_HOST)}  # the API answers on trusted hosts only (Flask's check)
    assert client.post("/api/v1/links", json={**LINK, "slug": "home"}, headers=headers).status_code == 201
    assert client.get("/r/home", headers=on(BRAND)).status_code == 400  # not trusted, not a domain (yet)
    assert client.post("/api/v1/domains", json={"host": BRAND}, headers=headers).status_code == 201
    assert client.post("/api/v1/links", json={**LINK, "slug": "home", "domain": BRAND},
                       headers=headers).status_code == 201
    assert client.get("/r/home", headers=on(BRAND)).status_code == 302  # a domain's host is trusted
    assert client.get("/r/home", headers=on(f"{BRAND}:443")).status_code == 302
    assert client.get("/r/home", headers=on(PUBLIC_HOST)).status_code == 302
    assert client.get("/r/home", headers=on("www.example.net")).status_code == 302  # a trusted entry: default
    for host in ("evil.example", "go.brand.no.evil.example", f"{PUBLIC_HOST}:99999"):
        resp = client.get("/r/home", headers=on(host))
        assert resp.status_code == 400 and b"not served here" in resp.data, host
    # brand domains answer short links only: Flask's own pages and API keep the trusted_hosts check
    assert client.get("/login", headers=on(BRAND)).status_code == 400


# ---- the domain map when the database fails --------------------------------------------------------
def unreachable_sessions() -> Any:
    port = pg_support.free_port()
    return lookup_sessions(normalise_database_url(f"postgresql://postgres@127.0.0.1:{port}/none", "."), 0.3)


def test_the_domain_map_is_kept_when_the_database_fails(tmp_path: Path) -> None:
    cache = LinkCache(unreachable_sessions(), ttl=0.0, stale_seconds=1.5, lookup_timeout=0.3)
    with pytest.raises(LinkUnavailable):
        cache.domains()  # never read, nowhere to read it from
    known = DomainMap({BRAND: DomainRoute(id=7, not_found_location=None)})
    cache._store_domains(known, time.monotonic())
    time.sleep(RETRY_SECONDS + 0.05)
    assert cache.domains() == known  # stale-if-error
    time.sleep(1.0)
    with pytest.raises(LinkUnavailable):
        cache.domains()  # past link_cache_stale_seconds, like a link


def test_a_worker_started_during_an_outage_routes_the_domains_it_knew(make_app, client, fair, tmp_path):
    app = client.application
    for host in (BRAND, EVENT, PUBLIC_HOST):
        assert client.get("/r/fair", headers=on(host)).status_code == 302  # read: in the last-known-links file
    instance = app.config["SETTINGS"].instance_path
    known = LastKnownLinks(Path(instance) / LAST_KNOWN_FILE).load_domains()
    assert known is not None and set(known[0].hosts) == {BRAND, EVENT}

    # The same instance restarted while its database is unreachable: nothing in memory, the file read.
    down = make_app(database_url=normalise_database_url(
        f"postgresql://postgres@127.0.0.1:{pg_support.free_port()}/none", "."), lookup_timeout_seconds=0.3)
    assert down.config["SETTINGS"].instance_path == instance
    other = down.test_client()
    for host, page in ((BRAND, "brand"), (EVENT, "event"), (PUBLIC_HOST, "default")):
        resp = other.get("/r/fair", headers=on(host))
        assert resp.status_code == 302 and landing(resp)[0] == f"example.com/{page}", host
    assert other.get("/r/fair", headers=on("evil.example")).status_code == 404  # still an unknown host
    assert other.get("/r/other", headers=on(BRAND)).status_code == 503  # never read: retry later

    # A fresh instance that never read the map cannot tell a domain's host from an unknown one: 503.
    fresh = make_app(database_url=down.config["SETTINGS"].database_url, lookup_timeout_seconds=0.3,
                     instance_path=str(tmp_path / "fresh"))
    resp = fresh.test_client().get("/r/fair", headers=on(BRAND))
    assert resp.status_code == 503 and resp.headers["Retry-After"]
