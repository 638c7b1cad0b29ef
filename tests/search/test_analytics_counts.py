"""The figures counted by the database, checked against a small data set counted by hand.

Eight local people: o, a, b, c, d, e, f and x (their usernames are the letter twice). o owns the
community "garden", where a, b, c and d have been members for 100 days, e for 20 days and f for 3 days;
x is not a member but writes there. Every post, comment and reaction is placed at a chosen time before
now, some on the edge of a window (a week is [now + 1 s - 7 days, now + 1 s)), some deleted, held or
outside the community.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.context import Context
from server.services import analytics as service
from server.storage import analytics as store
from server.storage.models import User
from server.storage.social import Membership, Post, PostCommunity, Reaction
from tests.search.helpers import community, person

DAY, HOUR, MINUTE, SECOND = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1)


@dataclass
class Garden:
    now: datetime
    people: dict[str, User]
    community_id: int

    def actor(self, name: str) -> int:
        actor_id = self.people[name].actor_id
        assert actor_id is not None
        return actor_id


class Writer:
    def __init__(self, garden: Garden) -> None:
        self.garden = garden
        self.rows: list[object] = []
        self.next_id = 9_000

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def post(
        self,
        name: str,
        ago: timedelta,
        *,
        shared: bool = True,
        title: str = "",
        source: str = "Hi",
        deleted: bool = False,
        held: bool = False,
    ) -> int:
        post_id, at = self._id(), self.garden.now - ago
        self.rows.append(self._row(post_id, name, at, title=title, source=source, deleted=deleted, held=held))
        if shared:
            self.rows.append(
                PostCommunity(post_id=post_id, community_id=self.garden.community_id, created_at=at)
            )
        return post_id

    def comment(self, name: str, root: int, ago: timedelta) -> int:
        post_id = self._id()
        self.rows.append(self._row(post_id, name, self.garden.now - ago, root=root))
        return post_id

    def react(self, name: str, post_id: int, ago: timedelta) -> None:
        self.rows.append(
            Reaction(
                post_id=post_id,
                actor_id=self.garden.actor(name),
                kind="like",
                created_at=self.garden.now - ago,
            )
        )

    def _row(
        self,
        post_id: int,
        name: str,
        at: datetime,
        *,
        root: int | None = None,
        title: str = "",
        source: str = "Hi",
        deleted: bool = False,
        held: bool = False,
    ) -> Post:
        return Post(
            id=post_id,
            uri=f"https://cercle.test/posts/{post_id}",
            author_id=self.garden.actor(name),
            kind="post" if root is None else "comment",
            parent_id=root,
            root_id=root,
            title=title,
            source=source,
            content_html=f"<p>{source}</p>",
            local=True,
            held=held,
            created_at=at,
            deleted_at=at if deleted else None,
        )


async def plant(ctx: Context) -> Garden:
    people = {name: await person(ctx, name * 2) for name in ("o", "a", "b", "c", "d", "e", "f", "x")}
    place = await community(ctx, people["o"], "garden")
    ctx.clock.advance(100 * DAY)  # type: ignore[attr-defined]
    garden = Garden(ctx.clock.now(), people, place.id)
    w = Writer(garden)
    for name, ago in (
        ("a", 100 * DAY),
        ("b", 100 * DAY),
        ("c", 100 * DAY),
        ("d", 100 * DAY),
        ("e", 20 * DAY),
        ("f", 3 * DAY),
    ):
        at = garden.now - ago
        w.rows.append(
            Membership(
                community_id=place.id,
                actor_id=garden.actor(name),
                role="member",
                state="active",
                created_at=at,
                updated_at=at,
            )
        )
    p1 = w.post("a", DAY, title="Who has seeds?")
    p2 = w.post("b", 2 * DAY)
    w.post("c", 7 * DAY - SECOND)  # the first second of the last week
    w.post("d", 7 * DAY)  # the last second of the week before
    p5 = w.post("x", 3 * DAY)
    p6 = w.post("e", 20 * DAY, source="Anyone for a swap?  ")
    p7 = w.post("a", 40 * DAY)
    p8 = w.post("b", DAY, deleted=True)
    w.post("c", DAY, held=True)
    p10 = w.post("d", DAY, shared=False)
    w.comment("b", p1, DAY - 30 * MINUTE)  # the first answer to a's question, after 30 minutes
    w.comment("a", p1, DAY - 10 * MINUTE)  # a in their own thread: neither an answer nor a help
    c3 = w.comment("c", p1, DAY - 60 * MINUTE)
    w.comment("e", p2, 2 * DAY - 5 * MINUTE)
    w.comment("f", p10, DAY - 2 * HOUR)  # outside the community
    w.comment("c", p6, 20 * DAY - 90 * MINUTE)  # answers e's question after 90 minutes
    w.react("c", p2, DAY)
    w.react("d", p2, 10 * DAY)
    w.react("x", p1, DAY)
    w.react("b", c3, HOUR)  # on a comment of a thread of the community
    w.react("a", p8, DAY)  # on a deleted post
    w.react("o", p7, 35 * DAY)
    w.react("a", p5, 2 * DAY)
    w.react("b", p5, 2 * DAY)
    async with ctx.transaction() as session:
        for row in w.rows:
            session.add(row)
            await session.flush()
    return garden


def raw(figures: dict[str, service._Raw]) -> dict[str, tuple[float, int]]:
    return {name: (figure.value, figure.people) for name, figure in figures.items()}


def points(series: dict[str, list[tuple[datetime, service._Raw]]]) -> dict[str, list[tuple[float, int]]]:
    return {name: [(value.value, value.people) for _, value in week] for name, week in series.items()}


async def counted(
    ctx: Context, garden: Garden, scope: store.Scope, weeks: int = 4
) -> tuple[service.Counts, list[store.Question], list[tuple[int, int]]]:
    since = garden.now - service.QUESTION_WINDOW
    restrict = scope.community_id is not None
    async with ctx.sessions() as session:
        counts = await service.count(session, scope, garden.now, weeks)
        questions = await store.questions(session, scope, since)
        best = await service.most_helpful(session, scope, since, questions, members_only=restrict)
    return counts, questions, best


async def test_a_community_s_figures_are_those_counted_by_hand(ctx: Context) -> None:
    garden = await plant(ctx)
    counts, questions, best = await counted(ctx, garden, store.Scope(garden.community_id))
    figures = raw(service.raw_figures(garden.now, counts, questions, restrict_to_members=True))
    assert figures == {
        "members": (7, 7),  # o, a, b, c, d, e, f
        "new_members_30d": (2, 2),  # e, f
        "active_members_7d": (4, 4),  # a, b, c, e (not d: a second too early; not x: no member)
        "active_members_30d": (5, 5),  # a, b, c, d, e
        "posts_30d": (6, 6),  # by a, b, c, d, x, e; not the deleted, held or unshared ones
        "comments_30d": (5, 4),  # b, a, c, e, c (f's is outside the community)
        "reactions_30d": (6, 5),  # c, d, x, b (on a comment), a, b; not on the deleted post
        "engagement_rate_30d": (71.4, 5),  # 5 of 7
        "questions_90d": (2, 2),  # a's title and e's text (trailing spaces ignored)
        "median_response_minutes_90d": (60.0, 2),  # 30 (b) and 90 (c)
    }
    series = points(service.raw_series(counts))
    assert series == {  # oldest week first; the last is the last 7 days
        "members": [(5, 5), (6, 6), (6, 6), (7, 7)],
        "active_members": [(0, 0), (2, 2), (1, 1), (5, 5)],  # anyone, x included
        "posts": [(0, 0), (1, 1), (1, 1), (4, 4)],
        "comments": [(0, 0), (1, 1), (0, 0), (4, 4)],
        "reactions": [(0, 0), (0, 0), (1, 1), (5, 4)],
    }
    b, c, a, e = (garden.actor(name) for name in "bcae")
    assert best == [(6, b), (6, c), (2, a), (1, e)]  # x (2 reactions received) is not a member


async def test_the_instance_s_figures_are_those_counted_by_hand(ctx: Context) -> None:
    garden = await plant(ctx)
    counts, questions, best = await counted(ctx, garden, store.Scope(None))
    figures = raw(service.raw_figures(garden.now, counts, questions, restrict_to_members=False))
    assert figures == {
        "members": (8, 8),
        "new_members_30d": (0, 0),  # every account is 100 days old
        "active_members_7d": (7, 7),  # everyone but o
        "active_members_30d": (7, 7),
        "posts_30d": (7, 6),  # d's unshared post counts here
        "comments_30d": (6, 5),
        "reactions_30d": (6, 5),
        "engagement_rate_30d": (87.5, 7),
        "questions_90d": (2, 2),
        "median_response_minutes_90d": (60.0, 2),
    }
    assert points(service.raw_series(counts)) == {
        "members": [(8, 8)] * 4,
        "active_members": [(0, 0), (2, 2), (1, 1), (7, 7)],
        "posts": [(0, 0), (1, 1), (1, 1), (5, 5)],
        "comments": [(0, 0), (1, 1), (0, 0), (5, 5)],
        "reactions": [(0, 0), (0, 0), (1, 1), (5, 4)],
    }
    b, c, a, x, e = (garden.actor(name) for name in "bcaxe")
    assert best == [(6, b), (6, c), (2, a), (2, x), (1, e)]  # f's 1 comes after e's (by id)


async def test_the_report_withholds_what_is_about_fewer_than_five_people(ctx: Context) -> None:
    garden = await plant(ctx)
    async with ctx.transaction() as session:
        report = await service.community_report(
            session, garden.now, ctx.charter, garden.people["o"], "garden", weeks=4
        )
    data = service.report_json(report)
    assert data["figures"] == {
        "members": 7,
        "new_members_30d": None,
        "active_members_7d": None,
        "active_members_30d": 5,
        "posts_30d": 6,
        "comments_30d": None,  # five comments by four people
        "reactions_30d": 6,
        "engagement_rate_30d": 71.4,
        "questions_90d": None,
        "median_response_minutes_90d": None,
    }
    assert set(data["hidden"].values()) == {"analytics.group_too_small"}
    assert [p["value"] for p in data["series"]["members"]] == [5, 6, 6, 7]
    assert [p["value"] for p in data["series"]["active_members"]] == [None, None, None, 5]
    assert [p["value"] for p in data["series"]["posts"]] == [None, None, None, None]  # 4 people at most
    assert [person["username"] for person in data["ambassadors"]] == ["bb", "cc", "aa", "ee"]
