"""Adoption figures for community managers and administrators, under the charter's analytics rules.

Every figure is counted together with the number of people behind it (the members, the authors of
the posts counted, the people who answered...). Each figure, and each point of a weekly series, goes
through the policy engine's `analytics_allowed`: below the charter's `min_group_size`, or where a rule
denies figures (e.g. communities tagged "health"), the value is withheld (None, with the reason),
never rounded or blurred. Figures about one person (ambassadors) appear only where the charter allows
per-person figures. The report-level refusals are written to the audit log by `check_analytics`.

Weeks are rolling 7-day windows ending now; the series never reaches further back than the charter
keeps analytics (`[retention] analytics`).
"""

from __future__ import annotations

import csv
import html
import io
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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
SERIES = ("members", "active_members", "posts", "comments", "reactions")


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


def _distinct(
    events: Iterable[store.Event], since: datetime, until: datetime, kinds: Sequence[str]
) -> set[int]:
    return {e.actor_id for e in events if e.kind in kinds and since <= e.at < until}


def _count(events: Sequence[store.Event], kind: str, since: datetime, until: datetime) -> _Raw:
    chosen = [e for e in events if e.kind == kind and since <= e.at < until]
    return _Raw(len(chosen), len({e.actor_id for e in chosen}))


def raw_figures(
    now: datetime,
    members: Sequence[tuple[int, datetime]],
    events: Sequence[store.Event],
    questions: Sequence[store.Question],
    answers: dict[int, tuple[int, datetime]],
    *,
    restrict_to_members: bool,
) -> dict[str, _Raw]:
    """Every headline figure with the number of people it is about. Pure, for the tests."""
    now = now + EDGE
    member_ids = {a for a, _ in members}
    acting = ("post", "comment", "reaction")

    def active(days: int) -> set[int]:
        people = _distinct(events, now - days * DAY, now, acting)
        return people & member_ids if restrict_to_members else people

    active7, active30 = active(7), active(30)
    joined = sum(1 for _, at in members if at >= now - 30 * DAY)
    figures = {
        "members": _Raw(len(member_ids), len(member_ids)),
        "new_members_30d": _Raw(joined, joined),
        "active_members_7d": _Raw(len(active7), len(active7)),
        "active_members_30d": _Raw(len(active30), len(active30)),
        "posts_30d": _count(events, "post", now - 30 * DAY, now),
        "comments_30d": _count(events, "comment", now - 30 * DAY, now),
        "reactions_30d": _count(events, "reaction", now - 30 * DAY, now),
        "engagement_rate_30d": _Raw(
            round(100.0 * len(active30) / len(member_ids), 1) if member_ids else 0.0,
            min(len(active30), len(member_ids)),
        ),
    }
    asked = [q for q in questions if q.at >= now - QUESTION_WINDOW]
    figures["questions_90d"] = _Raw(len(asked), len({q.author_id for q in asked}))
    delays = [(answers[q.id][1] - q.at).total_seconds() / 60 for q in asked if q.id in answers]
    responders = {answers[q.id][0] for q in asked if q.id in answers}
    figures["median_response_minutes_90d"] = _Raw(
        round(statistics.median(delays), 1) if delays else 0.0, len(responders) if delays else 0
    )
    return figures


def raw_series(
    now: datetime,
    weeks: int,
    members: Sequence[tuple[int, datetime]],
    events: Sequence[store.Event],
) -> dict[str, list[tuple[datetime, _Raw]]]:
    series: dict[str, list[tuple[datetime, _Raw]]] = {name: [] for name in SERIES}
    now = now + EDGE
    for back in range(weeks - 1, -1, -1):
        start, end = now - (back + 1) * WEEK, now - back * WEEK
        count = sum(1 for _, at in members if at < end)
        series["members"].append((start, _Raw(count, count)))
        people = _distinct(events, start, end, ("post", "comment", "reaction"))
        series["active_members"].append((start, _Raw(len(people), len(people))))
        for kind, name in (("post", "posts"), ("comment", "comments"), ("reaction", "reactions")):
            series[name].append((start, _count(events, kind, start, end)))
    return series


def helpfulness(
    events: Sequence[store.Event], answers: dict[int, tuple[int, datetime]], since: datetime
) -> dict[int, int]:
    """Comments in other people's threads, reactions received from others, and first answers (x3)."""
    score: dict[int, int] = {}
    for e in events:
        if e.at < since or e.target_author_id is None or e.target_author_id == e.actor_id:
            continue
        if e.kind == "comment":
            score[e.actor_id] = score.get(e.actor_id, 0) + 1
        elif e.kind == "reaction":
            score[e.target_author_id] = score.get(e.target_author_id, 0) + 1
    for responder, at in answers.values():
        if at >= since:
            score[responder] = score.get(responder, 0) + 3
    return score


def _checker(charter: Charter, kind: str | None, tags: Sequence[str]) -> Callable[[int], str | None]:
    def hidden(people: int) -> str | None:
        facts = AnalyticsFacts(group_size=people, community_tags=frozenset(tags), community_kind=kind)
        decision = analytics_allowed(charter, facts)
        return None if decision.action == "allow" else decision.reason_code

    return hidden


async def _report(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    user: User,
    *,
    scope: store.Scope,
    label: str,
    name: str,
    weeks: int | None,
    kind: str | None = None,
    tags: Sequence[str] = (),
) -> Report:
    span = DEFAULT_WEEKS if weeks is None else weeks
    if not 1 <= span <= MAX_WEEKS:
        raise ValidationFailed(f"must be between 1 and {MAX_WEEKS}", field="weeks")
    kept = charter.retention.periods.get("analytics")
    notes: list[str] = []
    if kept is not None and span * WEEK > kept.delta:
        span = max(1, kept.delta // WEEK)
        notes.append(f"the charter keeps analytics for {kept.text}: {span} weeks shown")
    horizon = min(now - span * WEEK, now - QUESTION_WINDOW)
    members = await store.members(session, scope)
    events = await store.events(session, scope, horizon)
    questions = await store.questions(session, scope, now - QUESTION_WINDOW)
    answers = await store.first_answers(session, questions)
    restrict = scope.community_id is not None
    raws = raw_figures(now, members, events, questions, answers, restrict_to_members=restrict)
    hidden = _checker(charter, kind, tags)
    subject = f"analytics:{label}"
    await charter_service.check_analytics(
        session,
        now,
        charter,
        subject=subject,
        group_size=len(members),
        community_kind=kind,
        community_tags=tags,
        actor_id=user.actor_id,
    )
    figures = [
        Figure(n, None, reason) if (reason := hidden(raw.people)) else Figure(n, raw.value)
        for n, raw in raws.items()
    ]
    series = {
        n: [Point(start, None if hidden(raw.people) else raw.value) for start, raw in points]
        for n, points in raw_series(now, span, members, events).items()
    }
    per_person = await charter_service.check_analytics(
        session,
        now,
        charter,
        subject=f"{subject}:ambassadors",
        group_size=len(members),
        per_person=True,
        community_kind=kind,
        community_tags=tags,
        actor_id=user.actor_id,
    )
    ambassadors: list[dict[str, Any]] | None = None
    ambassadors_hidden = None
    if per_person.action == "allow":
        member_ids = {a for a, _ in members}
        scores = helpfulness(events, answers, now - QUESTION_WINDOW)
        best = sorted(
            ((s, a) for a, s in scores.items() if s > 0 and (not restrict or a in member_ids)),
            key=lambda item: (-item[0], item[1]),
        )[:AMBASSADORS]
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
        charter=f"{charter.id} {charter.version}",
        min_group_size=charter.analytics.min_group_size,
        per_person_figures=charter.analytics.per_person_figures,
        figures=figures,
        series=series,
        ambassadors=ambassadors,
        ambassadors_hidden=ambassadors_hidden,
        notes=notes,
    )


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
    return await _report(
        session,
        now,
        charter,
        user,
        scope=store.Scope(community.id),
        label=community.slug,
        name=community.name,
        weeks=weeks,
        kind=kind,
        tags=tags,
    )


async def instance_report(
    session: AsyncSession, now: datetime, charter: Charter, user: User, *, weeks: int | None = None
) -> Report:
    """For administrators: the whole instance's local people and what they wrote."""
    if not user.is_admin:
        raise Forbidden("only administrators can see the instance's figures")
    return await _report(
        session, now, charter, user, scope=store.Scope(None), label="instance", name="instance", weeks=weeks
    )


# --- output --------------------------------------------------------------------------------------------


def report_json(report: Report) -> dict[str, Any]:
    return {
        "scope": report.scope,
        "name": report.name,
        "generated_at": report.generated_at.isoformat(),
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
    """One row per figure and per point: scope, figure, week_start, value (empty when withheld), hidden."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["scope", "figure", "week_start", "value", "hidden"])
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
