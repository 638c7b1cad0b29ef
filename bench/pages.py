"""Server-side render time of every main page, beside a bare Starlette endpoint measured the same way.

    python bench/pages.py                         # SQLite, the data set of bench/feed.py (100k posts)
    python bench/pages.py --posts 5000            # a quick run
    python bench/pages.py --db postgresql --requests 30

Seeds the same data set as `bench/feed.py` (its `load`), then adds what the pages need: the first person
is an administrator and the owner of one of their communities, has accepted the charter, has
notifications, and one post in that community has a thread of comments. The Cercle app is called in
process through `httpx.ASGITransport` (no network, no server): each figure is the time from sending the
request to having the full body, one request at a time, signed in with a bearer token. The baseline is
`bench/bare_app.py` called the same way in the same run. Aim: every page under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bare_app import create as bare_app  # noqa: E402
from bench.feed import DOMAIN, load  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.context import build_context  # noqa: E402
from server.heap import settle_after_start  # noqa: E402
from server.storage.compliance import CharterAcceptance  # noqa: E402
from server.storage.engine import create_engine  # noqa: E402
from server.storage.models import User  # noqa: E402
from server.storage.social import Membership, Notification, Post, PostCommunity, Profile  # noqa: E402

AIM_MS = 100.0
COMMENTS = 30


@dataclass(frozen=True)
class Seeded:
    token: str
    slug: str
    thread_id: int


async def seed_extra(url: str, token: str) -> Seeded:
    """Person 1 (u0): administrator, owner of one community, charter accepted, a thread, notifications."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(update(User).where(User.id == 1).values(is_admin=True))
        community_id = (
            (
                await conn.execute(
                    select(Membership.community_id)
                    .where(Membership.actor_id == 1)
                    .order_by(Membership.community_id)
                )
            )
            .scalars()
            .first()
        )
        assert community_id is not None
        await conn.execute(
            update(Membership)
            .where(Membership.actor_id == 1, Membership.community_id == community_id)
            .values(role="owner")
        )
        await conn.execute(
            insert(CharterAcceptance),
            [
                {
                    "user_id": 1,
                    "charter_id": "group",
                    "charter_version": "2026.1",
                    "language": "en",
                    "accepted_at": now,
                }
            ],
        )
        root_id = (
            (
                await conn.execute(
                    select(PostCommunity.post_id)
                    .where(PostCommunity.community_id == community_id)
                    .order_by(PostCommunity.created_at.desc())
                )
            )
            .scalars()
            .first()
        )
        assert root_id is not None
        first = 10_000_000
        await conn.execute(
            insert(Post),
            [
                {
                    "id": first + n,
                    "uri": f"http://{DOMAIN}/posts/{first + n}",
                    "author_id": 2 + n % 50,
                    "kind": "comment",
                    "parent_id": root_id if n % 3 == 0 else first + n - 1,
                    "root_id": root_id,
                    "on_profile": False,
                    "title": "",
                    "source": "A comment " * 10,
                    "content_html": "<p>" + "A comment " * 10 + "</p>",
                    "comment_count": 0,
                    "reaction_count": 0,
                    "local": True,
                    "held": False,
                    "created_at": now + timedelta(minutes=n),
                }
                for n in range(COMMENTS)
            ],
        )
        await conn.execute(update(Post).where(Post.id == root_id).values(comment_count=COMMENTS))
        await conn.execute(
            insert(Notification),
            [
                {
                    "user_id": 1,
                    "kind": "reply",
                    "actor_id": 2 + n % 50,
                    "post_id": first + n,
                    "community_id": None,
                    "detail": "",
                    "created_at": now + timedelta(minutes=n),
                }
                for n in range(COMMENTS)
            ],
        )
        people = (await conn.execute(select(User.actor_id))).scalars().all()
        await conn.execute(
            insert(Profile),
            [
                {
                    "actor_id": actor_id,
                    "job_title": "Engineer",
                    "department": "Plant",
                    "site": "Lyon",
                    "languages": ["fr", "en"],
                    "expertise": ["welding"],
                    "interests": [],
                    "bio": "",
                    "contact": {},
                    "visibility": {},
                    "updated_at": now,
                }
                for actor_id in people
            ],
        )
        slug = f"c{community_id - 1}"
    await engine.dispose()
    return Seeded(token=token, slug=slug, thread_id=root_id)


def pages(seeded: Seeded) -> list[tuple[str, str]]:
    slug = seeded.slug
    return [
        ("home", "/"),
        ("welcome", "/welcome"),
        ("communities directory", "/communities"),
        ("community", f"/c/{slug}"),
        ("community members", f"/c/{slug}/members"),
        ("community about", f"/c/{slug}/about"),
        ("community dashboard", f"/c/{slug}/dashboard"),
        ("thread (30 comments)", f"/posts/{seeded.thread_id}"),
        ("compose", "/compose"),
        ("people directory", "/people"),
        ("person", "/people/u1"),
        ("notifications", "/notifications"),
        ("settings", "/settings"),
        ("email preferences", "/settings/email"),
        ("cross-border consent", "/settings/cross-border"),
        ("search (API: no search page)", "/api/v1/search?q=word"),
        ("mention suggestions (API)", "/api/v1/mentions?q=u1"),
        ("admin", "/admin"),
        ("admin peers", "/admin/peers"),
        ("admin charter", "/admin/charter"),
        ("admin audit", "/admin/audit"),
        ("admin holds", "/admin/holds"),
        ("admin dashboard", "/admin/dashboard"),
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def measure(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], n: int
) -> tuple[list[float], int, int]:
    """`n` requests, one at a time after two warm-ups: milliseconds each, the last status, the body size."""
    for _ in range(2):
        await client.get(path, headers=headers)
    timings: list[float] = []
    status, size = 0, 0
    for _ in range(n):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        status, size = response.status_code, len(response.content)
    return timings, status, size


def line(label: str, timings: list[float], status: int, size: int, bare_p50: float) -> str:
    p50, p99 = percentile(timings, 50), percentile(timings, 99)
    flag = "" if p99 < AIM_MS else "  over 100 ms"
    return (
        f"{label:<30} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  ×bare {p50 / bare_p50:6.1f}  "
        f"{size / 1024:6.1f} KiB  {status}{flag}"
    )


async def run(url: str, label: str, args: argparse.Namespace, workdir: Path) -> None:
    started = time.monotonic()
    tokens = await load(url, users=args.users, communities=args.communities, posts=args.posts, readers=1)
    seeded = await seed_extra(url, tokens[0])
    print(
        f"[{label}] seeded {args.posts} posts, {args.communities} communities, {args.users} people "
        f"in {time.monotonic() - started:.0f} s"
    )
    settings = load_settings(
        None,
        domain=DOMAIN,
        scheme="http",
        secret_key="bench-" + "x" * 40,
        database_url=url,
        charter_dir=ROOT / "charter",
        data_dir=workdir / "var",
        media_dir=workdir / "var" / "media",
        run_workers_in_process=False,
    )
    ctx = build_context(settings)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    try:
        bare = httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_app()), base_url="http://bench")
        app = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, context=ctx)), base_url=f"http://{DOMAIN}"
        )
        settle_after_start()  # what the app's start-up does (httpx's ASGI transport runs no lifespan)
        async with bare, app:
            bare_timings, status, size = await measure(bare, "/api/v1/feed/home", {}, args.requests)
            bare_p50 = percentile(bare_timings, 50)
            print(f"[{label}] " + line("bare Starlette endpoint", bare_timings, status, size, bare_p50))
            for name, path in pages(seeded):
                timings, status, size = await measure(app, path, headers, args.requests)
                print(f"[{label}] " + line(name, timings, status, size, bare_p50), flush=True)
    finally:
        await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--communities", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=50, help="requests per page")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cercle-bench-pages-"))
    print(f"page benchmark: {args.requests} requests per page, one at a time, in process; files in {workdir}")
    if args.db in ("sqlite", "both"):
        asyncio.run(run(f"sqlite+aiosqlite:///{workdir / 'bench.db'}", "sqlite", args, workdir))
    if args.db in ("postgresql", "both"):
        from tests.pg import throwaway_database

        with throwaway_database("benchpages") as url:
            asyncio.run(run(url, "postgresql", args, workdir))


if __name__ == "__main__":
    main()
