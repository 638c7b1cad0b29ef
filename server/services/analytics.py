"""Adoption figures for community managers and administrators, under the charter's analytics rules.

Every figure is counted together with the number of people behind it (the members, the authors of
the posts counted, the people who answered...). Each figure, and each point of a weekly series, goes
through the policy engine's `analytics_allowed`: below the charter's `min_group_size`, or where a rule
denies figures (e.g. communities tagged "health"), the value is withheld (None, with the reason),
never rounded or blurred. Figures about one person (ambassadors) appear only where the charter allows
per-person figures. The report-level refusals are written to the audit log by `check_analytics`.

Weeks are rolling 7-day windows ending now; the series never reaches further back than the charter
keeps analytics (`[retention] analytics`).

The counting is done by the database (`server.storage.analytics`): a report reads a few grouped rows
(per kind and time window: how many events, by how many distinct people), one row per question of the
last 90 days and one per person with helpful acts, never the events themselves. What is left here is
arithmetic on those counts, the median response time and the charter's checks.

The instance's report is the costly one (its period holds tens of thousands of events), so its raw
figures are counted ahead of time: the background worker keeps a snapshot per period the dashboard
offers (`refresh_instance_snapshots`, every `analytics_refresh_seconds`), and a view uses it while it is
at most twice that old, saying when it was counted (`figures_as_of`; its weeks end then). A snapshot holds
only what was counted and by how many people: the charter's checks are applied when it is shown, exactly
as to figures counted on the spot, and the most helpful people are kept only where the charter allowed
showing them. Without a usable snapshot the figures are counted on the spot and kept as the snapshot.
"""

from __future__ import annotations

import csv
import html
import io
import statistics
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.clock import Clock
from server.errors import Forbidden, NotFound, ValidationFailed
from server.policy import Charter, analytics_allowed
from server.policy.facts import AnalyticsFacts
from server.services import charter as charter_service
from server.services.communities import access
from server.services.permissions import Action
from server.storage import analytics as store
from server.storage import communities as community_store
from server.storage.models import User

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
EDGE = timedelta(seconds=1)  # windows end just after now, so what happened this second counts
DEFAULT_WEEKS = 12
MAX_WEEKS = 52
QUESTION_WINDOW = 90 * DAY
AMBASSADORS = 5
ANSWER_POINTS = 3  # a first answer to a question counts as three helpful acts
SERIES = ("members", "active_members", "posts", "comments", "reactions")
WEEK_CHOICES = (4, 12, 26, 52)  # the periods the dashboards offer, and the worker keeps counted


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | None
    hidden: str | None = None  # why the value is withheld: the charter's reason code


@dataclass(frozen=True)
class Point:
    week_start: datetime
    value: float | None


@dataclass
class Report:
    scope: str  # "instance" or the community's slug
    name: str
    generated_at: datetime
    figures_as_of: datetime  # when the figures were counted: now, or the time of a snapshot
    charter: str
    min_group_size: int
    per_person_figures: bool
    figures: list[Figure]
    series: dict[str, list[Point]]
    ambassadors: list[dict[str, Any]] | None
    ambassadors_hidden: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Raw:
    value: float
    people: int


@dataclass(frozen=True)
class Counts:
    """What the database counted for one report, all in the scope."""

    members: int
    # how many of them joined before the 30 days began, then before the end of each week
    joined_before: list[int]
    last_7_days: dict[str, store.Tally]  # by kind, and store.ANYONE / store.MEMBERS
    last_30_days: dict[str, store.Tally]
    weeks: list[tuple[datetime, dict[str, store.Tally]]]  # (week start, tallies), oldest first


def week_windows(now: datetime, weeks: int) -> list[store.Window]:
    """The rolling weeks ending just after now, oldest first."""
    end = now + EDGE
    return [store.Window(end - (back + 1) * WEEK, end - back * WEEK) for back in range(weeks - 1, -1, -1)]


async def count(session: AsyncSession, scope: store.Scope, now: datetime, weeks: int) -> Counts:
    """Everything a report shows, counted by the database in two statements. The last 7 days are the
    last week of the series (the same window), so they are not counted twice."""
    end = now + EDGE
    series = week_windows(now, weeks)
    found = await store.tallies(session, scope, [store.Window(end - 30 * DAY, end), *series])
    total, joined_before = await store.members(session, scope, [end - 30 * DAY, *(w.until for w in series)])
    return Counts(
        members=total,
        joined_before=joined_before,
        last_7_days=found[-1],
        last_30_days=found[0],
        weeks=[(w.since, tallies) for w, tallies in zip(series, found[1:], strict=True)],
    )


def _tally(tally: store.Tally) -> _Raw:
    return _Raw(tally.count, tally.people)


def raw_figures(
    now: datetime, counts: Counts, questions: Sequence[store.Question], *, restrict_to_members: bool
) -> dict[str, _Raw]:
    """Every headline figure with the number of people it is about. Pure, for the tests. In a
    community, only its members count as active; the whole instance counts every local person."""
    now = now + EDGE
    acting = store.MEMBERS if restrict_to_members else store.ANYONE
    active7, active30 = counts.last_7_days[acting].people, counts.last_30_days[acting].people
    joined = counts.members - counts.joined_before[0]
    month = counts.last_30_days
    figures = {
        "members": _Raw(counts.members, counts.members),
        "new_members_30d": _Raw(joined, joined),
        "active_members_7d": _Raw(active7, active7),
        "active_members_30d": _Raw(active30, active30),
        "posts_30d": _tally(month["post"]),
        "comments_30d": _tally(month["comment"]),
        "reactions_30d": _tally(month["reaction"]),
        "engagement_rate_30d": _Raw(
            round(100.0 * active30 / counts.members, 1) if counts.members else 0.0,
            min(active30, counts.members),
        ),
    }
    asked = [q for q in questions if q.at >= now - QUESTION_WINDOW]
    figures["questions_90d"] = _Raw(len(asked), len({q.author_id for q in asked}))
    delays = [(q.answered_at - q.at).total_seconds() / 60 for q in asked if q.answered_at is not None]
    responders = {q.answered_by for q in asked if q.answered_at is not None}
    figures["median_response_minutes_90d"] = _Raw(
        round(statistics.median(delays), 1) if delays else 0.0, len(responders) if delays else 0
    )
    return figures


def raw_series(counts: Counts) -> dict[str, list[tuple[datetime, _Raw]]]:
    """Each weekly series with the number of people behind each point. Active members per week are
    everyone who acted in the scope that week, members or not."""
    series: dict[str, list[tuple[datetime, _Raw]]] = {name: [] for name in SERIES}
    for (start, tallies), joined in zip(counts.weeks, counts.joined_before[1:], strict=True):
        series["members"].append((start, _Raw(joined, joined)))
        active = tallies[store.ANYONE].people
        series["active_members"].append((start, _Raw(active, active)))
        for kind, name in (("post", "posts"), ("comment", "comments"), ("reaction", "reactions")):
            series[name].append((start, _tally(tallies[kind])))
    return series


async def most_helpful(
    session: AsyncSession,
    scope: store.Scope,
    since: datetime,
    questions: Sequence[store.Question],
    *,
    members_only: bool,
) -> list[tuple[int, int]]:
    """The most helpful people since `since`, as (score, actor id), best first (ties by id): comments in
    other people's threads, reactions received from others, and first answers (x3)."""
    score = await store.helpfulness(session, scope, since, members_only=members_only)
    responders = [
        q.answered_by
        for q in questions
        if q.answered_by is not None and q.answered_at is not None and q.answered_at >= since
    ]
    allowed = set(responders)
    if members_only:
        allowed = await store.current_members(session, scope, allowed)
    for responder in responders:
        if responder in allowed:
            score[responder] = score.get(responder, 0) + ANSWER_POINTS
    best = sorted(((s, a) for a, s in score.items() if s > 0), key=lambda item: (-item[0], item[1]))
    return best[:AMBASSADORS]


def _checker(charter: Charter, kind: str | None, tags: Sequence[str]) -> Callable[[int], str | None]:
    def hidden(people: int) -> str | None:
        facts = AnalyticsFacts(group_size=people, community_tags=frozenset(tags), community_kind=kind)
        decision = analytics_allowed(charter, facts)
        return None if decision.action == "allow" else decision.reason_code

    return hidden


def _per_person_allowed(charter: Charter, members: int, kind: str | None, tags: Sequence[str]) -> bool:
    """The charter's answer to figures about one person, without recording it (`check_analytics` records
    the refusals when a report is shown)."""
    facts = AnalyticsFacts(
        group_size=members, per_person=True, community_tags=frozenset(tags), community_kind=kind
    )
    return analytics_allowed(charter, facts).action == "allow"


@dataclass(frozen=True)
class RawReport:
    """Everything a report shows, before the charter: each figure and weekly point with the number of
    people behind it, counted at `computed_at` over `weeks` weeks."""

    computed_at: datetime
    weeks: int
    members: int  # the group the report is about, for the charter's report-level checks
    figures: dict[str, _Raw]
    series: dict[str, list[tuple[datetime, _Raw]]]
    # the most helpful people as (score, actor id); None when they were not counted, because the charter
    # did not allow figures about one person then
    helpful: list[tuple[int, int]] | None


def _span(charter: Charter, weeks: int | None) -> tuple[int, list[str]]:
    """The number of weeks a report covers: as asked, within what the charter keeps."""
    span = DEFAULT_WEEKS if weeks is None else weeks
    if not 1 <= span <= MAX_WEEKS:
        raise ValidationFailed(f"must be between 1 and {MAX_WEEKS}", field="weeks")
    kept = charter.retention.periods.get("analytics")
    if kept is not None and span * WEEK > kept.delta:
        span = max(1, kept.delta // WEEK)
        return span, [f"the charter keeps analytics for {kept.text}: {span} weeks shown"]
    return span, []


async def raw_report(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    scope: store.Scope,
    span: int,
    *,
    kind: str | None = None,
    tags: Sequence[str] = (),
) -> RawReport:
    """Count a report's figures. The most helpful people are counted only where the charter allows
    figures about one person, so no snapshot keeps what could not be shown."""
    restrict = scope.community_id is not None
    counts = await count(session, scope, now, span)
    questions = await store.questions(session, scope, now - QUESTION_WINDOW)
    helpful = None
    if _per_person_allowed(charter, counts.members, kind, tags):
        helpful = await most_helpful(session, scope, now - QUESTION_WINDOW, questions, members_only=restrict)
    return RawReport(
        computed_at=now,
        weeks=span,
        members=counts.members,
        figures=raw_figures(now, counts, questions, restrict_to_members=restrict),
        series=raw_series(counts),
        helpful=helpful,
    )


async def _report(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    user: User,
    raw: RawReport,
    *,
    scope: store.Scope,
    label: str,
    name: str,
    notes: list[str],
    kind: str | None = None,
    tags: Sequence[str] = (),
) -> Report:
    """The report as shown: the charter applied to every raw figure, now, whenever it was counted."""
    hidden = _checker(charter, kind, tags)
    subject = f"analytics:{label}"
    await charter_service.check_analytics(
        session,
        now,
        charter,
        subject=subject,
        group_size=raw.members,
        community_kind=kind,
        community_tags=tags,
        actor_id=user.actor_id,
    )
    figures = [
        Figure(n, None, reason) if (reason := hidden(value.people)) else Figure(n, value.value)
        for n, value in raw.figures.items()
    ]
    series = {
        n: [Point(start, None if hidden(value.people) else value.value) for start, value in points]
        for n, points in raw.series.items()
    }
    per_person = await charter_service.check_analytics(
        session,
        now,
        charter,
        subject=f"{subject}:ambassadors",
        group_size=raw.members,
        per_person=True,
        community_kind=kind,
        community_tags=tags,
        actor_id=user.actor_id,
    )
    ambassadors: list[dict[str, Any]] | None = None
    ambassadors_hidden = None
    if per_person.action == "allow":
        best = raw.helpful
        if best is None:  # not counted: `raw_report` counts them wherever this allows, `_usable` refuses
            best = await most_helpful(
                session,
                scope,
                now - QUESTION_WINDOW,
                await store.questions(session, scope, now - QUESTION_WINDOW),
                members_only=scope.community_id is not None,
            )
        names = await store.display_names(session, [a for _, a in best])
        ambassadors = [
            {"username": names[a][0], "domain": names[a][1], "display_name": names[a][2], "score": s}
            for s, a in best
            if a in names
        ]
    else:
        ambassadors_hidden = per_person.reason_code
    return Report(
        scope=label,
        name=name,
        generated_at=now,
        figures_as_of=raw.computed_at,
        charter=f"{charter.id} {charter.version}",
        min_group_size=charter.analytics.min_group_size,
        per_person_figures=charter.analytics.per_person_figures,
        figures=figures,
        series=series,
        ambassadors=ambassadors,
        ambassadors_hidden=ambassadors_hidden,
        notes=notes,
    )


# --- snapshots -----------------------------------------------------------------------------------------

SNAPSHOT_FORMAT = 1


def snapshot_max_age(refresh_seconds: int) -> timedelta | None:
    """How old a snapshot may be when shown: twice the worker's interval (one missed round is fine);
    None when snapshots are off."""
    return timedelta(seconds=2 * refresh_seconds) if refresh_seconds > 0 else None


def snapshot_payload(raw: RawReport) -> dict[str, Any]:
    """A raw report as JSON for `analytics_snapshots`: values with their numbers of people, no verdict."""
    return {
        "format": SNAPSHOT_FORMAT,
        "members": raw.members,
        "figures": {name: [value.value, value.people] for name, value in raw.figures.items()},
        "series": {
            name: [[start.isoformat(), value.value, value.people] for start, value in points]
            for name, points in raw.series.items()
        },
        "helpful": None if raw.helpful is None else [[score, actor] for score, actor in raw.helpful],
    }


def from_snapshot(found: store.Snapshot) -> RawReport | None:
    """The raw report a snapshot holds; None if it was written in another format."""
    payload = found.payload
    if payload.get("format") != SNAPSHOT_FORMAT:
        return None
    helpful = payload["helpful"]
    return RawReport(
        computed_at=found.computed_at,
        weeks=found.weeks,
        members=int(payload["members"]),
        figures={name: _Raw(value, int(people)) for name, (value, people) in payload["figures"].items()},
        series={
            name: [
                (datetime.fromisoformat(start), _Raw(value, int(people))) for start, value, people in points
            ]
            for name, points in payload["series"].items()
        },
        helpful=None if helpful is None else [(int(score), int(actor)) for score, actor in helpful],
    )


def _usable(raw: RawReport | None, now: datetime, max_age: timedelta, charter: Charter) -> RawReport | None:
    """A snapshot is used if it was counted within `max_age` before now, and holds the most helpful
    people whenever the charter now allows showing them."""
    if raw is None or not now - max_age <= raw.computed_at <= now:
        return None
    if raw.helpful is None and _per_person_allowed(charter, raw.members, None, ()):
        return None
    return raw


async def _instance_raw(
    session: AsyncSession, now: datetime, charter: Charter, span: int, max_age: timedelta | None
) -> RawReport:
    """The instance's raw figures: a fresh enough snapshot, or counted now (and kept as the snapshot)."""
    scope = store.Scope(None)
    if max_age is None:
        return await raw_report(session, now, charter, scope, span)
    found = await store.snapshot(session, scope, span)
    raw = _usable(None if found is None else from_snapshot(found), now, max_age, charter)
    if raw is None:
        raw = await raw_report(session, now, charter, scope, span)
        await store.store_snapshot(session, scope, span, raw.computed_at, snapshot_payload(raw))
    return raw


def last_weeks(raw: RawReport, span: int) -> RawReport:
    """A count over its last `span` weeks only: the headline figures do not depend on the period, and
    the weeks of a shorter period ending at the same moment are the last ones of a longer period."""
    return replace(raw, weeks=span, series={name: points[-span:] for name, points in raw.series.items()})


async def refresh_instance_snapshots(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    clock: Clock,
    charter: Charter,
    *,
    keep: timedelta = timedelta(0),
) -> list[int]:
    """Count the instance's figures afresh for each period the dashboard offers and keep them as
    snapshots; a snapshot counted less than `keep` ago is left (another process refreshed it). One count
    over the longest period due gives the shorter ones. The numbers of weeks counted, shortest first."""
    spans = sorted({_span(charter, weeks)[0] for weeks in WEEK_CHOICES})
    scope = store.Scope(None)
    now = clock.now()
    async with sessions() as session:
        counted_at = await store.snapshot_times(session, scope)
        due = [span for span in spans if not (span in counted_at and now - keep < counted_at[span] <= now)]
        if not due:
            return []
        raw = await raw_report(session, now, charter, scope, max(due))
    async with sessions() as session, session.begin():  # written apart: the count holds no write lock
        for span in due:
            await store.store_snapshot(session, scope, span, now, snapshot_payload(last_weeks(raw, span)))
    return due


async def community_report(
    session: AsyncSession, now: datetime, charter: Charter, user: User, slug: str, *, weeks: int | None = None
) -> Report:
    """For the community's owners and managers, and administrators."""
    if user.is_admin:
        community = await community_store.get_community_by_slug(session, slug.strip().lower())
        if community is None:
            raise NotFound("no such community")
    else:
        found = await access(session, slug.strip().lower(), user)
        found.check(Action.MANAGE)
        community = found.community
    kind, tags = await store.community_facts(session, community.id)
    scope = store.Scope(community.id)
    span, notes = _span(charter, weeks)
    raw = await raw_report(session, now, charter, scope, span, kind=kind, tags=tags)
    return await _report(
        session,
        now,
        charter,
        user,
        raw,
        scope=scope,
        label=community.slug,
        name=community.name,
        notes=notes,
        kind=kind,
        tags=tags,
    )


async def instance_report(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    user: User,
    *,
    weeks: int | None = None,
    max_age: timedelta | None = None,
) -> Report:
    """For administrators: the whole instance's local people and what they wrote. With `max_age`, the
    figures come from the snapshot if it was counted at most that long ago (`Report.figures_as_of` says
    when), else they are counted now and kept as the snapshot; without, they are counted now."""
    if not user.is_admin:
        raise Forbidden("only administrators can see the instance's figures")
    span, notes = _span(charter, weeks)
    raw = await _instance_raw(session, now, charter, span, max_age)
    return await _report(
        session,
        now,
        charter,
        user,
        raw,
        scope=store.Scope(None),
        label="instance",
        name="instance",
        notes=notes,
    )


# --- output --------------------------------------------------------------------------------------------


def report_json(report: Report) -> dict[str, Any]:
    return {
        "scope": report.scope,
        "name": report.name,
        "generated_at": report.generated_at.isoformat(),
        "figures_as_of": report.figures_as_of.isoformat(),
        "charter": report.charter,
        "min_group_size": report.min_group_size,
        "per_person_figures": report.per_person_figures,
        "figures": {f.name: f.value for f in report.figures},
        "hidden": {f.name: f.hidden for f in report.figures if f.hidden},
        "series": {
            name: [{"week_start": p.week_start.date().isoformat(), "value": p.value} for p in points]
            for name, points in report.series.items()
        },
        "ambassadors": report.ambassadors,
        "ambassadors_hidden": report.ambassadors_hidden,
        "notes": report.notes,
    }


def report_csv(report: Report) -> str:
    """One row per figure and per point: scope, figure, week_start, value (empty when withheld), hidden.
    The first row, `figures_as_of`, says when the figures were counted (ISO 8601)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["scope", "figure", "week_start", "value", "hidden"])
    writer.writerow([report.scope, "figures_as_of", "", report.figures_as_of.isoformat(), ""])
    for f in report.figures:
        writer.writerow([report.scope, f.name, "", "" if f.value is None else f.value, f.hidden or ""])
    for name, points in report.series.items():
        for p in points:
            writer.writerow(
                [
                    report.scope,
                    f"weekly_{name}",
                    p.week_start.date().isoformat(),
                    "" if p.value is None else p.value,
                    "" if p.value is not None else "hidden",
                ]
            )
    for rank, person in enumerate(report.ambassadors or [], start=1):
        writer.writerow(
            [report.scope, f"ambassador_{rank}", "", f"{person['username']}@{person['domain']}", ""]
        )
    return out.getvalue()


def svg_chart(points: Sequence[Point], *, title: str, width: int = 480, height: int = 160) -> str:
    """A bar chart of a weekly series as a standalone SVG string (escaped; no script, no external
    reference), for the web interface to embed. Withheld points are drawn as a hatched gap."""
    pad_left, pad_bottom, pad_top = 36, 20, 20
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    values = [p.value for p in points if p.value is not None]
    top = max(values) if values else 0.0
    top = top if top > 0 else 1.0
    slot = plot_w / max(1, len(points))
    bar = max(1.0, slot * 0.7)
    label = html.escape(title)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}" class="cercle-chart">',
        f"<title>{label}</title>",
        f'<text x="{pad_left}" y="14" font-size="12" fill="currentColor">{label}</text>',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 8}" y2="{pad_top + plot_h}" '
        'stroke="currentColor" stroke-width="1"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 8}" font-size="10" text-anchor="end" '
        f'fill="currentColor">{_number(top)}</text>',
    ]
    for i, p in enumerate(points):
        x = pad_left + i * slot + (slot - bar) / 2
        day = html.escape(p.week_start.date().isoformat())
        if p.value is None:
            parts.append(
                f'<rect x="{x:.1f}" y="{pad_top}" width="{bar:.1f}" height="{plot_h}" fill="none" '
                f'stroke="currentColor" stroke-dasharray="2 2" opacity="0.4">'
                f"<title>{day}: withheld</title></rect>"
            )
            continue
        h = plot_h * p.value / top
        parts.append(
            f'<rect x="{x:.1f}" y="{pad_top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="currentColor" opacity="0.8"><title>{day}: {_number(p.value)}</title></rect>'
        )
    if points:
        first = html.escape(points[0].week_start.date().isoformat())
        parts.append(
            f'<text x="{pad_left}" y="{height - 4}" font-size="10" fill="currentColor">{first}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def report_charts(report: Report) -> dict[str, str]:
    """Every weekly series of the report as an SVG chart, by series name."""
    titles = {
        "members": "Members",
        "active_members": "Active members per week",
        "posts": "Posts per week",
        "comments": "Comments per week",
        "reactions": "Reactions per week",
    }
    return {name: svg_chart(points, title=titles.get(name, name)) for name, points in report.series.items()}
