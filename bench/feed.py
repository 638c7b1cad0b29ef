"""Feed latency with 100k posts in 1k communities, beside a bare Starlette endpoint served the same way.

    python bench/feed.py                      # both databases, defaults below
    python bench/feed.py --db sqlite --posts 20000 --requests 500
    python bench/feed.py --workers 2          # two server processes per app

For each database: migrate a fresh one, bulk-load people, communities, memberships, posts and
reactions, serve Cercle and the bare endpoint with uvicorn (one process each unless `--workers`), and
fetch the home feed (50 posts, as 100 different people, bearer tokens) with 20 concurrent readers.
Prints p50/p99 for both, so the ratio survives a noisy machine, and for `/api/v1/me` on the same
Cercle process: the least any signed-in request costs (authentication and one small answer), the
floor under which no page can go on that machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feed_support import drive, serve  # noqa: E402
from server.storage import migrate  # noqa: E402
from server.storage.engine import create_engine  # noqa: E402
from server.storage.models import ApiToken, User  # noqa: E402
from server.storage.social import Actor, Community, Membership, Post, PostCommunity, Reaction  # noqa: E402

KINDS = ("functional", "project", "practice", "expertise", "interest", "sector")
DOMAIN = "bench.localhost"


async def load(url: str, *, users: int, communities: int, posts: int, readers: int) -> list[str]:
    """Fill a migrated database; returns the bearer tokens of `readers` people."""
    rng = random.Random(42)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    engine = create_engine(url)
    await migrate.upgrade(engine)
    tokens = [f"cercle_bench{i:05d}" for i in range(readers)]
    async with engine.begin() as conn:
        await conn.execute(
            insert(Actor),
            [
                {
                    "id": i + 1,
                    "uri": f"http://{DOMAIN}/users/u{i}",
                    "kind": "Person",
                    "local": True,
                    "domain": DOMAIN,
                    "username": f"u{i}",
                    "display_name": f"Person {i}",
                    "summary": "",
                    "manually_approves": False,
                    "created_at": now,
                }
                for i in range(users)
            ]
            + [
                {
                    "id": users + c + 1,
                    "uri": f"http://{DOMAIN}/c/c{c}",
                    "kind": "Group",
                    "local": True,
                    "domain": DOMAIN,
                    "username": f"c{c}",
                    "display_name": f"Community {c}",
                    "summary": "",
                    "manually_approves": False,
                    "created_at": now,
                }
                for c in range(communities)
            ],
        )
        await conn.execute(
            insert(User),
            [
                {
                    "id": i + 1,
                    "username": f"u{i}",
                    "email": f"u{i}@bench.example",
                    "display_name": f"Person {i}",
                    "is_admin": False,
                    "session_epoch": 0,
                    "actor_id": i + 1,
                    "created_at": now,
                }
                for i in range(users)
            ],
        )
        await conn.execute(
            insert(ApiToken),
            [
                {
                    "user_id": i + 1,
                    "name": "bench",
                    "token_hash": hashlib.sha256(t.encode()).hexdigest(),
                    "created_at": now,
                }
                for i, t in enumerate(tokens)
            ],
        )
        visibility = ["open"] * 16 + ["closed"] * 3 + ["secret"]
        await conn.execute(
            insert(Community),
            [
                {
                    "id": c + 1,
                    "actor_id": users + c + 1,
                    "slug": f"c{c}",
                    "name": f"Community {c}",
                    "description": "",
                    "rules": "",
                    "kind": KINDS[c % len(KINDS)],
                    "tags": [],
                    "visibility": visibility[c % len(visibility)],
                    "local": True,
                    "created_at": now,
                }
                for c in range(communities)
            ],
        )
        member_rows = []
        joined: dict[int, list[int]] = {}
        for i in range(users):
            mine = rng.sample(range(1, communities + 1), 10)
            joined[i + 1] = mine
            member_rows += [
                {
                    "community_id": c,
                    "actor_id": i + 1,
                    "role": "member",
                    "state": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for c in mine
            ]
        await conn.execute(insert(Membership), member_rows)
        batch = 10_000
        for start in range(0, posts, batch):
            post_rows, share_rows, reaction_rows = [], [], []
            for n in range(start, min(posts, start + batch)):
                author = rng.randrange(1, users + 1)
                created = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
                places = rng.sample(joined[author], 2 if n % 10 == 0 else 1)
                post_rows.append(
                    {
                        "id": n + 1,
                        "uri": f"http://{DOMAIN}/posts/{n + 1}",
                        "author_id": author,
                        "kind": "post",
                        "on_profile": False,
                        "title": f"Post {n}",
                        "source": "word " * 60,
                        "content_html": "<p>" + "word " * 60 + "</p>",
                        "comment_count": 0,
                        "reaction_count": 0,
                        "local": True,
                        "held": False,
                        "created_at": created,
                    }
                )
                share_rows += [
                    {"post_id": n + 1, "community_id": c, "created_at": created, "pinned": False}
                    for c in places
                ]
                if n % 3 == 0:
                    reaction_rows.append(
                        {
                            "post_id": n + 1,
                            "actor_id": rng.randrange(1, users + 1),
                            "kind": "like",
                            "created_at": created,
                        }
                    )
            await conn.execute(insert(Post), post_rows)
            await conn.execute(insert(PostCommunity), share_rows)
            await conn.execute(insert(Reaction), reaction_rows)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("COMMIT")
            await conn.exec_driver_sql("ANALYZE")
            for table in ("actors", "users", "communities", "posts"):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    else:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
    await engine.dispose()
    return tokens


def bench_one(label: str, url: str, args: argparse.Namespace, workdir: Path) -> None:
    started = datetime.now(UTC)
    tokens = asyncio.run(
        load(url, users=args.users, communities=args.communities, posts=args.posts, readers=args.readers)
    )
    seeded = (datetime.now(UTC) - started).total_seconds()
    print(
        f"[{label}] loaded {args.posts} posts, {args.communities} communities, "
        f"{args.users} people in {seeded:.0f} s"
    )
    env = {
        "CERCLE_DATABASE_URL": url,
        "CERCLE_SECRET_KEY": "bench-" + "x" * 40,
        "CERCLE_DOMAIN": DOMAIN,
        "CERCLE_SCHEME": "http",
        "CERCLE_CHARTER_DIR": str(ROOT / "charter"),
        "CERCLE_RUN_WORKERS_IN_PROCESS": "false",
    }
    auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
    feed = [("/api/v1/feed/home?limit=50", headers) for headers in auth]
    floor = [("/api/v1/me", headers) for headers in auth]  # authentication and one small answer
    for name, factory, runs in (
        ("bare Starlette endpoint", "bench.bare_app:create", [("bare Starlette endpoint", feed)]),
        (
            "Cercle",
            "server.app:app_from_environment",
            [("Cercle /api/v1/me (floor)", floor), ("Cercle home feed", feed)],
        ),
    ):
        server = serve(factory, env, workdir / f"{label}-{name.split()[0]}.log", workers=args.workers)
        try:
            for run_name, paths in runs:
                warm = min(200, args.requests)
                asyncio.run(drive(server.url, paths, concurrency=args.concurrency, total=warm))
                result = asyncio.run(
                    drive(server.url, paths, concurrency=args.concurrency, total=args.requests)
                )
                print(f"[{label}] " + result.line(run_name), flush=True)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--communities", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes for each app (uvicorn --workers), default 1"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cercle-bench-"))
    print(
        f"feed benchmark: {args.requests} requests, {args.concurrency} concurrent readers, "
        f"{args.workers} server process(es) per app; logs in {workdir}"
    )
    if args.db in ("sqlite", "both"):
        bench_one("sqlite", f"sqlite+aiosqlite:///{workdir / 'bench.db'}", args, workdir)
    if args.db in ("postgresql", "both"):
        from tests.pg import throwaway_database

        with throwaway_database("bench") as url:
            bench_one("postgresql", url, args, workdir)


if __name__ == "__main__":
    main()
