"""Experiment reports (A/B tests of link variants): which links are the arms, the counts per arm, the tests.

ATTRIBUTION.md "Link variants (A/B)"; the choices where it is silent are in docs/guides/analyst.md#experiments:

- **Arms.** ``experiment=NAME``: the links whose ``experiment`` is NAME, one arm per ``variant`` (several links
  with the same variant are one arm). ``campaign=SLUG``: the campaign's experiment if its links name exactly one;
  without explicit experiments, its links that differ only in ``utm_content`` (and label) are the arms, named
  by ``utm_content``. The control is ``control=``, else variant ``A``, else the first arm alphabetically.
- **Exposures** are the human clicks and QR scans of an arm's links in the period (report time zone; bots left
  out). **People** are counted in the arm of their first exposure in the period only (a tie at the same
  microsecond goes to the arm first in name order); the report says how many saw more than one arm.
- **Converters** are those people with a conversion of ``conversion_type`` (default: the first funnel stage,
  the step a link can move; ``all``: any type) from their first exposure to ``lookback_days`` (default 30)
  after it, even after the period's end; **value** sums those conversions. The rate is converters / people.

The database does the counting: four aggregate queries over the arms' clicks (by link, so the index on
``(link_id, ts)`` is used) and the first exposure's people; Python receives one row per link or arm.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.experiments import ALPHA, POWER, analyse
from tracker.config import Settings
from tracker.conversions.models import Conversion
from tracker.db import utcnow
from tracker.errors import NotFound, ValidationError
from tracker.links.models import Campaign, Link
from tracker.links.urls import normalise_tag
from tracker.privacy.retention import retention_note
from tracker.redirects.models import Click
from tracker.reports.params import Period, parse_params

__all__ = ["ARM_COLUMNS", "PARAMETERS", "ArmSet", "ExperimentParams", "experiment_report", "list_experiments",
           "parse_experiment_params", "resolve_arms"]

PARAMETERS = ("experiment", "campaign", "control", "from", "to", "conversion_type", "lookback_days", "format")
ARM_COLUMNS = ["arm", "links", "exposures", "people", "converters", "conversions", "value", "rate", "rate_low",
               "rate_high", "value_per_exposure", "is_control", "lift", "lift_low", "lift_high", "p_value",
               "p_adjusted"]
NO_CONTENT = "(none)"  # the arm of links without utm_content, in a campaign's implicit test
MAX_ARMS = 26


@dataclass(frozen=True)
class ExperimentParams:
    """What an experiment report depends on (echoed back as ``parameters``)."""

    period: Period
    experiment: str | None = None
    campaign: str | None = None
    control: str | None = None
    conversion_type: str | None = None  # None: any type
    lookback_days: int = 30

    def as_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "campaign": self.campaign, "control": self.control,
                **self.period.as_dict(), "conversion_type": self.conversion_type or "all",
                "lookback_days": self.lookback_days}


def _one(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    text = str(value).strip() if value is not None else ""
    return text or None


def parse_experiment_params(raw: Mapping[str, Any], settings: Settings, *,
                            today: date | None = None) -> ExperimentParams:
    """Check the report's parameters given as text (API query, CLI options, page form).

    ``from``, ``to``, ``conversion_type`` and ``lookback_days`` are read as every report reads them
    (:func:`tracker.reports.params.parse_params`); ``conversion_type`` defaults to the first funnel stage.

    Raises
    ------
    ValidationError
        Naming the parameter: unknown, malformed, or neither/both of ``experiment`` and ``campaign``.
    """
    for name in raw:
        if name not in PARAMETERS:
            raise ValidationError(f"unknown parameter {name}; this report takes: {', '.join(PARAMETERS)}", name)
    common = {k: v for k, v in raw.items() if k in ("from", "to", "conversion_type", "lookback_days")}
    params = parse_params(common, settings, today=today, allowed=list(common))
    experiment, campaign = _one(raw, "experiment"), _one(raw, "campaign")
    if experiment is None and campaign is None:
        raise ValidationError("give experiment (the test's name) or campaign (a campaign's slug or id)", "experiment")
    if experiment is not None and campaign is not None:
        raise ValidationError("give experiment or campaign, not both", "campaign")
    if experiment is not None and len(experiment) > 100:
        raise ValidationError("experiment is longer than 100 characters", "experiment")
    conversion_type = params.conversion_type if _one(raw, "conversion_type") else settings.funnel[0]
    return ExperimentParams(period=params.period, experiment=normalise_tag(experiment) if experiment else None,
                            campaign=campaign, control=_one(raw, "control"), conversion_type=conversion_type,
                            lookback_days=params.lookback_days)


@dataclass
class ArmSet:
    """The arms of one experiment: arm name -> its links' (id, code), in name order."""

    experiment: str | None
    campaign: str | None
    named_by: str  # "variant" or "utm_content"
    arms: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    @property
    def link_arm(self) -> dict[int, int]:
        """Link id -> the arm's position (0, 1, ...)."""
        return {link_id: k for k, links in enumerate(self.arms.values()) for link_id, _ in links}


def _sorted_arms(pairs: Sequence[tuple[str, Link]]) -> dict[str, list[tuple[int, str]]]:
    arms: dict[str, list[tuple[int, str]]] = {}
    for name, link in sorted(pairs, key=lambda p: (p[0].lower(), p[0], p[1].id)):
        arms.setdefault(name, []).append((link.id, link.code))
    return arms


def _implicit_groups(links: Sequence[Link]) -> list[list[Link]]:
    """Groups of links that differ only in ``utm_content`` (and label), with at least two contents."""
    groups: dict[str, list[Link]] = {}
    for link in links:
        key = json.dumps([link.destination, link.utm_source, link.utm_medium, link.utm_campaign, link.utm_term,
                          link.kind, sorted((link.extra_params or {}).items())])
        groups.setdefault(key, []).append(link)
    return [g for g in groups.values() if len({lk.utm_content for lk in g}) >= 2]


def resolve_arms(session: Session, *, experiment: str | None = None, campaign: str | None = None) -> ArmSet:
    """Find the arms of ``experiment`` or of ``campaign`` (see the module's docstring).

    Raises
    ------
    NotFound
        No link is in the experiment, or no campaign has that slug or id (the error names the parameter).
    ValidationError
        Only one arm; or the campaign holds several tests (name one with ``experiment``) or none.
    """
    if experiment is not None:
        links = list(session.scalars(sa.select(Link).where(Link.experiment == experiment).order_by(Link.id)))
        if not links:
            raise NotFound(f"no link is an arm of experiment {experiment!r} (set experiment and variant on the "
                           "links)", "experiment")
        slugs = {lk.campaign.slug for lk in links if lk.campaign}
        found = ArmSet(experiment, slugs.pop() if len(slugs) == 1 else None, "variant",
                       _sorted_arms([(lk.variant or NO_CONTENT, lk) for lk in links]))
        where = "experiment"
    else:
        value = str(campaign).strip()
        found_campaign = session.get(Campaign, int(value)) if value.isdigit() and len(value) < 12 else \
            session.scalar(sa.select(Campaign).where(Campaign.slug == normalise_tag(value)))
        if found_campaign is None:
            raise NotFound(f"campaign {value!r} does not exist (give its slug or id)", "campaign")
        links = list(session.scalars(sa.select(Link).where(Link.campaign_id == found_campaign.id).order_by(Link.id)))
        named = sorted({lk.experiment for lk in links if lk.experiment})
        if len(named) > 1:
            raise ValidationError(f"campaign {found_campaign.slug!r} has several experiments ({', '.join(named)}): "
                                  "ask for one with experiment", "campaign")
        if named:
            return resolve_arms(session, experiment=named[0])
        groups = _implicit_groups(links)
        if not groups:
            raise ValidationError(f"campaign {found_campaign.slug!r} has no links that differ only in utm_content, "
                                  "and none marked as variants: give its links an experiment and variants",
                                  "campaign")
        if len(groups) > 1:
            sets = "; ".join(", ".join(sorted({lk.utm_content or NO_CONTENT for lk in g})) for g in groups)
            raise ValidationError(f"campaign {found_campaign.slug!r} has several sets of links that differ only in "
                                  f"utm_content ({sets}): mark the arms of one test with experiment and variant",
                                  "campaign")
        found = ArmSet(None, found_campaign.slug, "utm_content",
                       _sorted_arms([(lk.utm_content or NO_CONTENT, lk) for lk in groups[0]]))
        where = "campaign"
    if len(found.arms) < 2:
        raise ValidationError(f"the test has one arm only ({', '.join(found.arms)}): create another variant", where)
    if len(found.arms) > MAX_ARMS:
        raise ValidationError(f"the test has {len(found.arms)} arms; at most {MAX_ARMS} are compared", where)
    return found


def _plus_days(session: Session, ts: Any, days: int) -> sa.ColumnElement[Any]:
    """``ts + days`` in SQL, to the microsecond, on either database (``days`` is a checked integer)."""
    if session.get_bind().dialect.name == "postgresql":
        return ts.op("+")(sa.literal_column(f"INTERVAL '{int(days)} days'"))
    # SQLite keeps timestamps as text 'YYYY-MM-DD HH:MM:SS.ffffff': shift the whole seconds, keep the fraction
    # (its date functions round fractions to milliseconds), and the result compares as text.
    return sa.func.datetime(sa.func.substr(ts, 1, 19), f"+{int(days)} days").op("||")(sa.func.substr(ts, 20))


def _counts(session: Session, arms: ArmSet, params: ExperimentParams) -> tuple[pd.DataFrame, int]:
    """Per arm: exposures, people, converters, conversions and value; and the people who saw several arms."""
    clicks = Click.__table__
    link_arm = arms.link_arm
    rank = sa.case(link_arm, value=clicks.c.link_id)
    scope = [clicks.c.link_id.in_(list(link_arm)), sa.not_(clicks.c.is_bot),
             clicks.c.ts >= params.period.start, clicks.c.ts < params.period.end]
    n = len(arms.arms)
    exposures = [0] * n
    for link_id, count in session.execute(sa.select(clicks.c.link_id, sa.func.count()).where(*scope)
                                          .group_by(clicks.c.link_id)):
        exposures[link_arm[link_id]] += int(count)

    # One pass per person: the first exposure (a tie at the same instant: the arm first in name order) and how
    # many arms they saw, by a window over the arms' clicks; then their conversions within the lookback.
    # (Reading the people's clicks once: a self-join per question made three scans of them.)
    people_scope = [*scope, clicks.c.person_id.is_not(None)]
    order = sa.func.row_number().over(partition_by=clicks.c.person_id, order_by=(clicks.c.ts, rank))
    ranked = (sa.select(clicks.c.person_id, clicks.c.ts.label("first_ts"), rank.label("arm"), order.label("rn"),
                        sa.func.min(rank).over(partition_by=clicks.c.person_id).label("low"),
                        sa.func.max(rank).over(partition_by=clicks.c.person_id).label("high"))
              .where(*people_scope).subquery("ranked"))
    assigned = (sa.select(ranked.c.person_id, ranked.c.first_ts, ranked.c.arm,
                          (ranked.c.low != ranked.c.high).label("several"))
                .where(ranked.c.rn == 1).subquery("assigned"))
    conv = Conversion.__table__
    join = [conv.c.person_id == assigned.c.person_id, conv.c.ts >= assigned.c.first_ts,
            conv.c.ts <= _plus_days(session, assigned.c.first_ts, params.lookback_days)]
    if params.conversion_type is not None:
        join.append(conv.c.type == params.conversion_type)
    people, converters, conversions, value = [0] * n, [0] * n, [0] * n, [0.0] * n
    crossovers = 0
    stmt = (sa.select(assigned.c.arm, sa.func.count(sa.distinct(assigned.c.person_id)),
                      sa.func.count(sa.distinct(sa.case((assigned.c.several, assigned.c.person_id)))),
                      sa.func.count(sa.distinct(conv.c.person_id)), sa.func.count(conv.c.id),
                      sa.func.coalesce(sa.func.sum(conv.c.value), 0))
            .select_from(assigned.outerjoin(conv, sa.and_(*join))).group_by(assigned.c.arm))
    for arm, p, several, k, c, v in session.execute(stmt):
        i = int(arm)
        people[i], converters[i], conversions[i], value[i] = int(p), int(k), int(c), float(v)
        crossovers += int(several)
    frame = pd.DataFrame({"arm": list(arms.arms), "links": [" ".join(code for _, code in links)
                                                             for links in arms.arms.values()],
                          "exposures": exposures, "people": people, "converters": converters,
                          "conversions": conversions, "value": value})
    return frame, crossovers


def _control(arms: ArmSet, wanted: str | None) -> str:
    names = list(arms.arms)
    if wanted is not None:
        for name in names:
            if name == wanted or name.lower() == wanted.lower():
                return name
        raise ValidationError(f"control {wanted!r} is not an arm of this test; its arms are {', '.join(names)}",
                              "control")
    for name in names:
        if name.upper() == "A":
            return name
    return names[0]


def _clean(value: Any) -> Any:
    """JSON-friendly: NaN and NumPy scalars become None and Python numbers."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def experiment_report(session: Session, settings: Settings, params: ExperimentParams, *,
                      now: datetime | None = None) -> dict[str, Any]:
    """The experiment report: arms (rows) with rates, intervals, lift and p-values, the test and the verdict.

    Raises
    ------
    NotFound, ValidationError
        See :func:`resolve_arms`; ``control`` that is not an arm.
    """
    arms = resolve_arms(session, experiment=params.experiment, campaign=params.campaign)
    control = _control(arms, params.control)
    counts, crossovers = _counts(session, arms, params)
    result = analyse(counts, control, alpha=ALPHA, power=POWER, min_exposures=settings.experiment_min_exposures,
                     min_conversions=settings.experiment_min_conversions)
    table = result.arms
    table["value_per_exposure"] = [v / e if e else None for v, e in zip(table["value"], table["exposures"],
                                                                            strict=True)]
    rows = [{c: _clean(row[c]) for c in ARM_COLUMNS} for _, row in table.iterrows()]
    smallest = int(counts["people"].min())
    needed = result.needed_per_arm
    now = now or utcnow()
    notes = [
        "A person exposed to several arms counts in the first one only (the arm of their first click or scan "
        f"in the period): {crossovers} {'person' if crossovers == 1 else 'people'} saw more than one arm.",
        "Exposures are the human clicks and QR scans of the arm's links in the period (bots left out); the rate is "
        f"people converting within {params.lookback_days} days of their first exposure / people.",
    ]
    complete = params.period.end + timedelta(days=params.lookback_days)
    if complete > now:
        since = (now - timedelta(days=params.lookback_days)).astimezone(settings.tz).date()
        notes.append(f"People first exposed after {since.isoformat()} have not had the full {params.lookback_days} "
                     "days to convert yet: their arm's rate may still rise.")
    report: dict[str, Any] = {
        "parameters": {**params.as_dict(), "control": control, "alpha": ALPHA, "power": POWER,
                       "min_exposures": settings.experiment_min_exposures,
                       "min_conversions": settings.experiment_min_conversions},
        "timezone": settings.report_timezone,
        "currency": settings.reporting_currency,
        "experiment": arms.experiment,
        "campaign": arms.campaign,
        "arms_named_by": arms.named_by,
        "control": control,
        "arms": rows,
        "test": {k: _clean(v) for k, v in result.test.items()},
        "comparisons": [{"arm": r["arm"], "control": control, **{k: r[k] for k in
                         ("lift", "lift_low", "lift_high", "p_value", "p_adjusted")}}
                        for r in rows if not r["is_control"]],
        "verdict": result.verdict,
        "winner": result.winner,
        "enough_data": result.enough_data,
        "not_enough_data_because": result.reasons,
        "sample_size": {"needed_per_arm": needed, "for_arm": result.needed_for,
                        "more_needed": max(0, needed - smallest) if needed is not None else None,
                        "power": POWER, "unit": "people"},
        "notes": notes,
        "csv": "arms",
        "columns": ARM_COLUMNS,
    }
    note = retention_note(session, settings, params.period.start)
    if note is not None:
        report["retention"] = note
    return report


def list_experiments(session: Session) -> list[dict[str, Any]]:
    """Every test a report can be asked for: explicit experiments, and campaigns with an implicit test.

    Each item: ``experiment`` or ``campaign`` (the parameter to give), ``label`` and ``arms`` (names).
    """
    out: list[dict[str, Any]] = []
    rows = session.execute(sa.select(Link.experiment, Link.variant).where(Link.experiment.is_not(None))
                           .distinct().order_by(Link.experiment, Link.variant)).all()
    explicit: dict[str, list[str]] = {}
    for experiment, variant in rows:
        explicit.setdefault(experiment, []).append(variant or NO_CONTENT)
    for experiment, names in explicit.items():
        out.append({"experiment": experiment, "campaign": None, "label": experiment,
                    "arms": sorted(set(names), key=lambda n: (n.lower(), n))})
    campaigns = session.scalars(sa.select(Campaign).order_by(Campaign.name, Campaign.id)).all()
    links_by_campaign: dict[int, list[Link]] = {}
    for link in session.scalars(sa.select(Link).where(Link.campaign_id.is_not(None), Link.experiment.is_(None))):
        links_by_campaign.setdefault(link.campaign_id, []).append(link)  # type: ignore[arg-type]
    marked = set(session.scalars(sa.select(Link.campaign_id).where(Link.experiment.is_not(None)).distinct()))
    for campaign in campaigns:
        if campaign.id in marked:
            continue
        groups = _implicit_groups(links_by_campaign.get(campaign.id, []))
        if len(groups) == 1:
            out.append({"experiment": None, "campaign": campaign.slug,
                        "label": f"{campaign.name} (utm_content)",
                        "arms": sorted({lk.utm_content or NO_CONTENT for lk in groups[0]})})
    return out
