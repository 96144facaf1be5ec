"""The demo data set: loads through the services, adds nothing the second time, and its aggregates match."""
from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import tracker.demo
from tracker.cli import main
from tracker.conversions.models import Conversion
from tracker.demo import CAMPAIGNS, DEMO_MARK, LinkPlan, demo_records, load_demo
from tracker.errors import ValidationError
from tracker.links.models import OFFLINE_KINDS, Campaign, CampaignCost, Link
from tracker.redirects.capture import parse_device
from tracker.redirects.models import Click, LinkDailyStat, LinkVisitor, OrphanVisit
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit, OfflineTouch

CLICKS = 1500
LINKS = sum(len(c.links) for c in CAMPAIGNS)


def counts(session) -> dict[str, int]:
    session.expire_all()
    return {model.__name__: session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Campaign, Link, CampaignCost, Click, OrphanVisit, LinkDailyStat, LinkVisitor,
                          LandingVisit, OfflineTouch, Conversion, SelfReport)}


@pytest.fixture
def demo(app, session):
    summary = load_demo(app, clicks=CLICKS, days=60, seed=3)
    return summary


def test_demo_loads_the_campaigns_links_costs_and_clicks(demo, session):
    n = counts(session)
    assert n["Campaign"] == len(CAMPAIGNS) == 6
    assert n["Link"] == LINKS
    assert n["Click"] == CLICKS
    assert 1 <= n["OrphanVisit"] <= 50
    assert n["CampaignCost"] > 0
    assert f"{len(CAMPAIGNS)} campaigns ({len(CAMPAIGNS)} new)" in demo
    assert f"{LINKS} links ({LINKS} new)" in demo
    assert f"{CLICKS} of them new" in demo

    campaigns = {c.slug: c for c in session.scalars(sa.select(Campaign))}
    for campaign in campaigns.values():
        assert campaign.description.startswith(DEMO_MARK)
        assert campaign.start_date is not None and campaign.fallback_url
        assert campaign.end_date is None or campaign.end_date >= campaign.start_date
    expo = campaigns["oslo-expo-2026"]
    assert expo.name == "Oslo Expo 2026" and (expo.end_date - expo.start_date).days == 2
    links = list(session.scalars(sa.select(Link)))
    kinds = Counter(link.kind for link in links)
    assert set(kinds) >= {"online", "event", "print", "podcast", "pr", "partner", "outdoor", "other"}
    assert any(link.label == "Booth 12, Oslo Expo" and link.kind == "event" for link in links)
    assert any(link.code == "techtalk" and link.kind == "podcast" for link in links)
    assert {link.utm_medium for link in links if link.campaign_id == campaigns["brand-search"].id} == {"cpc"}
    assert {link.utm_medium for link in links if link.campaign_id == campaigns["linkedin-launch"].id} \
        >= {"paid-social"}
    by_id = {c.id: c for c in campaigns.values()}
    assert all(link.utm_campaign == by_id[link.campaign_id].slug for link in links)

    costs = list(session.scalars(sa.select(CampaignCost)))
    assert {c.currency for c in costs} == {"NOK"}
    assert all(c.amount > 0 for c in costs)
    today = datetime.now(UTC).date() + timedelta(days=1)
    assert all(c.date <= today for c in costs)
    assert {c.campaign_id for c in costs} == {c.id for c in campaigns.values()}


def test_intake_follows_the_clicks(app, client, auth, session, monkeypatch):
    # Enough clicks for every kind of intake to show up (the 1,500 of the fixture give a handful of leads).
    # The demo's times follow the clock (campaign dates, the traffic window), so a few dozen answers
    # may or may not include an unmatched one depending on the hour: pin the clock to get one data set.
    monkeypatch.setattr(tracker.demo, "utcnow", lambda: datetime(2026, 11, 30, 5, 0, tzinfo=UTC))
    summary = load_demo(app, clicks=6000, days=60, seed=11)
    visits = list(session.scalars(sa.select(LandingVisit)))
    after_click = [v for v in visits if v.tid]
    assert after_click and all(not v.is_touch for v in after_click)  # the click is the touch
    clicks = {c.tid: c for c in session.scalars(sa.select(Click).where(Click.tid.in_([v.tid for v in after_click])))}
    assert set(clicks) == {v.tid for v in after_click}
    assert all(clicks[v.tid].person_id == v.person_id for v in after_click)  # stitched to the click's person
    organic = [v for v in visits if not v.tid]
    assert {v.referrer_host for v in organic} >= {"www.google.com", None}

    conversions = list(session.scalars(sa.select(Conversion)))
    types = Counter(c.type for c in conversions)
    assert types["lead"] > types["opportunity"] > 0 and types["purchase"] > 0
    assert all(c.value > 0 for c in conversions if c.type == "purchase")
    assert all(c.value == 0 for c in conversions if c.type == "lead")
    # A deal keeps its id through the funnel: every purchase was a lead of the same person first.
    leads = {c.external_id: c for c in conversions if c.type == "lead"}
    assert all(c.external_id in leads and leads[c.external_id].person_id == c.person_id
               and leads[c.external_id].ts <= c.ts for c in conversions if c.type == "purchase")

    answers = list(session.scalars(sa.select(SelfReport)))
    assert {a.language for a in answers} == {"en", "no"}
    free = [a for a in answers if a.text]
    assert free and any(a.option is None for a in free)
    assert any(a.conversion_external_id in leads for a in answers)
    checked = {a.text: client.get("/api/v1/answer-rules/check", query_string={"text": a.text}, headers=auth).json
               for a in free}
    assert any(c["channel"] == "Other" for c in checked.values())
    assert len({c["channel"] for c in checked.values()}) >= 3

    attendees = list(session.scalars(sa.select(OfflineTouch)))
    assert attendees and {t.kind for t in attendees} == {"event"}
    converters = {c.person_id for c in conversions}
    touched = {v.person_id for v in visits} | {t.person_id for t in attendees}
    assert touched - converters, "most visitors and attendees never convert"
    assert converters & {t.person_id for t in attendees}, "some attendees convert"
    assert converters - touched - {c.person_id for c in session.scalars(sa.select(Click))}, \
        "some people convert with no tracked touch"
    assert f"{len(visits)} landing visits" in summary and f"{len(answers)} answers" in summary


def test_second_run_adds_nothing(app, demo, session):
    before = counts(session)
    stats_before = session.execute(sa.select(LinkDailyStat.link_id, LinkDailyStat.day, LinkDailyStat.via,
                                             LinkDailyStat.clicks, LinkDailyStat.uniques,
                                             LinkDailyStat.bots).order_by(LinkDailyStat.link_id,
                                                                          LinkDailyStat.day,
                                                                          LinkDailyStat.via)).all()
    again = load_demo(app, clicks=CLICKS, days=60, seed=3)
    assert counts(session) == before
    assert "(0 new)" in again and "0 of them new" in again
    stats_after = session.execute(sa.select(LinkDailyStat.link_id, LinkDailyStat.day, LinkDailyStat.via,
                                            LinkDailyStat.clicks, LinkDailyStat.uniques,
                                            LinkDailyStat.bots).order_by(LinkDailyStat.link_id,
                                                                         LinkDailyStat.day,
                                                                         LinkDailyStat.via)).all()
    assert stats_after == stats_before


def test_aggregates_equal_the_click_rows(app, demo, session):
    tz = app.config["SETTINGS"].tz
    rows = session.execute(sa.select(Click.link_id, Click.ts, Click.via, Click.is_bot, Click.visitor_id)
                           .order_by(Click.ts)).all()
    expected: dict[tuple, dict[str, int]] = {}
    first_seen: dict[tuple, object] = {}
    for link_id, ts, via, is_bot, visitor in rows:
        day = ts.astimezone(tz).date()
        cell = expected.setdefault((link_id, day, via), {"clicks": 0, "uniques": 0, "bots": 0})
        if is_bot:
            cell["bots"] += 1
        else:
            cell["clicks"] += 1
            first_seen.setdefault((link_id, via, visitor), day)
    for (link_id, via, _), day in first_seen.items():
        expected[(link_id, day, via)]["uniques"] += 1
    stored = {(r.link_id, r.day, r.via): {"clicks": r.clicks, "uniques": r.uniques, "bots": r.bots}
              for r in session.scalars(sa.select(LinkDailyStat))}
    assert stored == expected
    humans = sum(1 for r in rows if not r.is_bot)
    assert session.scalar(sa.select(sa.func.sum(LinkDailyStat.clicks))) == humans
    assert session.scalar(sa.select(sa.func.sum(LinkDailyStat.bots))) == len(rows) - humans
    assert 0 < len(rows) - humans < 0.2 * len(rows)
    assert session.scalar(sa.select(sa.func.count()).select_from(LinkVisitor)) == len(first_seen)


def test_api_totals_match_the_clicks(client, auth, demo, session):
    link = session.scalar(sa.select(Link).where(Link.label == "Booth 12, Oslo Expo"))
    stats = client.get(f"/api/v1/links/{link.code}", headers=auth).json["stats"]
    clicks = list(session.scalars(sa.select(Click).where(Click.link_id == link.id)))
    assert stats["scans"] == sum(1 for c in clicks if c.via == "qr" and not c.is_bot)
    assert stats["clicks"] == sum(1 for c in clicks if c.via == "link" and not c.is_bot)
    assert stats["bots"] == sum(1 for c in clicks if c.is_bot)
    assert stats["scans"] > stats["clicks"]


def test_clicks_look_like_real_traffic(app, demo, session):
    tz = app.config["SETTINGS"].tz
    now = datetime.now(UTC)
    links = {link.id: link for link in session.scalars(sa.select(Link))}
    campaigns = {c.slug: c for c in session.scalars(sa.select(Campaign))}
    clicks = list(session.scalars(sa.select(Click)))
    for c in clicks:
        link = links[c.link_id]
        assert now - timedelta(days=60, minutes=5) <= c.ts <= now
        assert re.fullmatch(r"[0-9a-f]{32}", c.ip_hash)
        assert re.fullmatch(r"[A-Za-z0-9_-]{20}", c.tid)
        assert c.visitor_id and len(c.visitor_id) <= 40
        assert (c.utm_source, c.utm_medium, c.utm_campaign) == (link.utm_source, link.utm_medium,
                                                                link.utm_campaign)
        if c.via == "qr":
            assert link.kind in OFFLINE_KINDS  # only printed codes are scanned
        if c.referrer_host is not None:
            assert link.kind == "online" and not c.is_bot
        assert c.is_bot == (c.device_type == "bot") == parse_device(c.user_agent).is_bot
        if c.outcome == "fallback":
            assert link.expires_at is not None and c.ts >= link.expires_at
        else:
            assert c.outcome == "redirect" and (link.expires_at is None or c.ts < link.expires_at)

    printed = set(OFFLINE_KINDS) - {"podcast"}  # podcast links are read aloud and typed
    offline = [c for c in clicks if links[c.link_id].kind in printed]
    assert sum(c.via == "qr" for c in offline) > 0.85 * len(offline)
    online = [c for c in clicks if links[c.link_id].kind == "online"]
    assert all(c.via == "link" for c in online)
    assert any(c.referrer_host == "www.linkedin.com" for c in online)
    assert any(c.referrer_host in ("www.google.com", "www.google.no") for c in online)
    scans = [c for c in clicks if c.via == "qr" and not c.is_bot]
    assert all(c.device_type in ("mobile", "tablet") for c in scans)
    humans = [c for c in clicks if not c.is_bot]
    assert {"mobile", "pc"} <= {c.device_type for c in humans}
    assert {"iOS", "Android", "Windows", "Mac OS X"} <= {c.os for c in humans}
    browsers = {c.browser for c in clicks if c.is_bot}
    assert browsers & {"Googlebot", "Slackbot-LinkExpanding", "LinkedInBot"}
    # A pool of returning visitors: some visitors come back, to several links.
    per_visitor = Counter(c.visitor_id for c in humans)
    assert per_visitor.most_common(1)[0][1] >= 5
    assert len(per_visitor) < 0.8 * len(humans)
    # The expo spike: its three days outdo any other day of the expo links by far.
    expo = campaigns["oslo-expo-2026"]
    expo_days = Counter(c.ts.astimezone(tz).date() for c in clicks
                        if links[c.link_id].campaign_id == expo.id and links[c.link_id].kind == "event")
    during = [expo_days[expo.start_date + timedelta(days=i)] for i in range(3)]
    others = [n for day, n in expo_days.items() if not expo.start_date <= day <= expo.end_date]
    assert min(during) > 5 * max(others, default=0)
    # Weekly rhythm: weekdays busier than weekends outside the expo.
    by_weekday = Counter(c.ts.astimezone(tz).weekday() for c in humans
                         if links[c.link_id].campaign_id == campaigns["brand-search"].id)
    assert sum(by_weekday[d] for d in range(5)) / 5 > 1.4 * (by_weekday[5] + by_weekday[6]) / 2


def test_orphans_are_misprinted_codes(demo, session):
    codes = set(session.scalars(sa.select(Link.code)))
    orphans = list(session.scalars(sa.select(OrphanVisit)))
    assert orphans
    for orphan in orphans:
        assert orphan.code not in codes
        assert orphan.via == "qr" and re.fullmatch(r"[0-9a-f]{32}", orphan.ip_hash)
        assert any(len(code) == len(orphan.code) and sum(a != b for a, b in zip(code, orphan.code, strict=False)) == 1
                   for code in codes)


def test_records_are_reproducible_from_the_seed(app, demo, session):
    specs = {spec.slug: spec for spec in CAMPAIGNS}
    plans = []
    for link in session.scalars(sa.select(Link).order_by(Link.id)):
        spec = specs[link.campaign.slug]
        link_spec = next(s for s in spec.links if s.label == link.label)
        plans.append(LinkPlan.of(link, link.campaign, spec, link_spec))
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    tz = app.config["SETTINGS"].tz
    one = demo_records(plans, now=now, days=30, clicks=400, seed=11, tz=tz)
    two = demo_records(plans, now=now, days=30, clicks=400, seed=11, tz=tz)
    other = demo_records(plans, now=now, days=30, clicks=400, seed=12, tz=tz)
    assert one == two
    assert {r["tid"] for r in one}.isdisjoint(r["tid"] for r in other)
    assert [r["ts"] for r in one] == sorted(r["ts"] for r in one)
    assert sum(1 for r in one if r.get("t") != "orphan") == 400
    assert demo_records(plans, now=now, days=30, clicks=0, seed=11, tz=tz) == []


def test_a_different_seed_adds_a_second_sample_of_clicks(app, demo, session):
    load_demo(app, clicks=300, days=10, seed=4)
    n = counts(session)
    assert (n["Campaign"], n["Link"], n["Click"]) == (len(CAMPAIGNS), LINKS, CLICKS + 300)


def test_campaigns_of_others_are_left_alone(app, session):
    from tracker.links.service import create_campaign, create_link
    settings = app.config["SETTINGS"]
    mine = create_campaign(session, settings, {"name": "Brand search"})
    create_link(session, settings, {"destination": "https://example.com/", "utm_source": "someone",
                                    "utm_medium": "referral", "utm_campaign": "x", "slug": "techtalk"})
    summary = load_demo(app, clicks=200, days=30, seed=1)
    assert "brand-search" in summary.splitlines()[-1]
    n = counts(session)
    assert n["Campaign"] == len(CAMPAIGNS)
    assert session.scalars(sa.select(Link).where(Link.campaign_id == mine.id)).all() == []
    podcast = session.scalar(sa.select(Link).where(Link.label == "Host read-out, Tech Talk"))
    assert podcast.code != "techtalk"  # the word was taken: a generated code instead


def test_short_window_and_no_clicks(app, session):
    summary = load_demo(app, clicks=0, days=1, seed=1)
    assert counts(session)["Click"] == 0 and counts(session)["Link"] == LINKS
    assert "0 clicks and scans generated" in summary
    load_demo(app, clicks=50, days=1, seed=1)
    assert counts(session)["Click"] == 50


@pytest.mark.parametrize("kwargs,field", [({"clicks": -1}, "clicks"), ({"days": 0}, "days")])
def test_bad_arguments_name_the_field(app, kwargs, field):
    with pytest.raises(ValidationError) as info:
        load_demo(app, **kwargs)
    assert info.value.field == field


def test_demo_command_prints_the_summary(runner, session):
    # Through the `tracker` group itself: it pushes the app context the command needs.
    result = runner.invoke(main, args=["demo", "--clicks", "300", "--days", "30", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "6 campaigns (6 new)" in result.output and "300 of them new" in result.output
    assert counts(session)["Click"] == 300
    bad = runner.invoke(main, args=["demo", "--days", "0"])
    assert bad.exit_code == 1 and "days must be between 1 and 3660 (days)" in bad.output
