"""Search latency with 100k posts in 1k communities, beside a bare Starlette endpoint served the same way.

    python bench/search.py                      # both databases, defaults below
    python bench/search.py --db sqlite --posts 20000 --requests 500
    python bench/search.py --baseline           # also in process with every match ranked (as before)

For each database: the feed benchmark's loader (`bench.feed.load`: people, communities, memberships,
posts, reactions), then every post gets a text drawn from a Zipf vocabulary (French, German and
English words plus filler) and is indexed in bulk. Then:

1. in process, one query at a time through `services.search.search` (the query itself: p50/p99);
2. over HTTP, Cercle (with the search routes) and the bare endpoint served by uvicorn, with
   `--concurrency` readers using bearer tokens.

Queries mix rare, medium and very common words, one or two words, as 100 different people.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import bindparam, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feed import DOMAIN, load  # noqa: E402
from bench.feed_support import drive, serve  # noqa: E402
from server.storage.engine import create_engine, session_factory  # noqa: E402
from server.storage.models import User  # noqa: E402
from server.storage.social import Post  # noqa: E402

REAL = {
    "fr": ["réunion", "réunions", "projet", "budget", "client", "équipe", "livraison", "sécurité", "maison"],
    "de": ["Haus", "Häuser", "Kunde", "Kunden", "Besprechung", "Projekt", "Lieferung", "Sicherheit"],
    "en": ["meeting", "meetings", "project", "budget", "customer", "delivery", "security", "roadmap"],
}
FILLER = [f"w{n}" for n in range(5000)]
QUERIES = [
    "réunions",
    "Häuser",
    "meeting",
    "budget",
    "w4000",
    "w2500 w40",
    "projet client",
    "w10",
    "roadmap security",
    "w1",
    "Kunden Lieferung",
    "w999",
]


def text_for(rng: random.Random, weights: list[float], language: str) -> str:
    words = rng.choices(FILLER, weights=weights, k=40)
    for word in rng.sample(REAL[language], 3):
        words[rng.randrange(40)] = word
    return " ".join(words)


async def add_text(url: str, posts: int) -> float:
    """Give every post a text and index it; returns seconds spent."""
    from server.services import indexing

    rng = random.Random(7)
    weights = [1 / (n + 1) for n in range(len(FILLER))]
    engine = create_engine(url)
    sessions = session_factory(engine)
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        for start in range(0, posts, 5000):
            rows = []
            for post_id in range(start + 1, min(posts, start + 5000) + 1):
                language = ("fr", "de", "en")[post_id % 3]
                body = text_for(rng, weights, language)
                rows.append(
                    {"pid": post_id, "source": body, "content_html": f"<p>{body}</p>", "lang": language}
                )
            await session.execute(
                update(Post.__table__)
                .where(Post.__table__.c.id == bindparam("pid"))
                .values(
                    source=bindparam("source"),
                    content_html=bindparam("content_html"),
                    language=bindparam("lang"),
                ),
                rows,
            )
        await indexing.reindex_all(session)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("COMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE fts_documents")
    else:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("INSERT INTO fts_index(fts_index) VALUES ('optimize')")
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
    await engine.dispose()
    return time.perf_counter() - started


async def in_process(
    url: str, readers: int, total: int, bounds: list[int]
) -> dict[int, tuple[list[float], dict[str, float]]]:
    """Latencies and the slowest time per query text, for each value of `RECENT`; the values take
    turns, query by query, so that they share the machine's load alike."""
    from server.config import load_settings
    from server.services import search
    from server.storage import search as store

    settings = load_settings(
        None, database_url=url, domain=DOMAIN, scheme="http", secret_key="bench-" + "x" * 40
    )
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions() as session:
        users = list((await session.execute(select(User).order_by(User.id).limit(readers))).scalars())
    results: dict[int, tuple[list[float], dict[str, float]]] = {b: ([], {}) for b in bounds}
    saved = store.RECENT
    for n in range(total):
        q = QUERIES[n % len(QUERIES)]
        for bound in bounds:
            store.RECENT = bound
            latencies, slowest = results[bound]
            async with sessions() as session:
                started = time.perf_counter()
                await search.search(session, settings, users[n % len(users)], q=q)
                latencies.append((time.perf_counter() - started) * 1000)
            slowest[q] = max(slowest.get(q, 0.0), latencies[-1])
    store.RECENT = saved
    await engine.dispose()
    return results


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report_in_process(label: str, url: str, args: argparse.Namespace) -> None:
    bounds = [0, args.recent] if args.baseline else [args.recent]
    results = asyncio.run(in_process(url, args.readers, min(args.requests, 600), bounds))
    for bound, (direct, slowest) in results.items():
        name = f"in process, RECENT={bound}" + (" (unbounded)" if bound == 0 else "")
        print(
            f"[{label}] {name:<34} p50 {percentile(direct, 50):7.1f} ms   "
            f"p99 {percentile(direct, 99):7.1f} ms   mean {statistics.fmean(direct):6.1f} ms"
        )
        worst = sorted(slowest.items(), key=lambda item: -item[1])[:4]
        print(f"[{label}]   slowest: " + ", ".join(f"{q!r} {ms:.0f} ms" for q, ms in worst))


def search_app() -> object:
    """Cercle as served, plus the search routes (until app.py mounts them itself)."""
    from server.api import search as search_api
    from server.app import app_from_environment

    app = app_from_environment()
    present = {getattr(r, "path", None) for r in app.router.routes}
    for route in search_api.routes:
        if route.path not in present:
            app.router.routes.insert(0, route)
    return app


def bench_one(label: str, url: str, args: argparse.Namespace, workdir: Path) -> None:
    started = datetime.now(UTC)
    tokens = asyncio.run(
        load(url, users=args.users, communities=args.communities, posts=args.posts, readers=args.readers)
    )
    indexed = asyncio.run(add_text(url, args.posts))
    seeded = (datetime.now(UTC) - started).total_seconds()
    print(
        f"[{label}] loaded and indexed {args.posts} posts in {seeded:.0f} s (texts + index: {indexed:.0f} s)"
    )
    report_in_process(label, url, args)
    if args.no_http:
        return
    env = {
        "CERCLE_DATABASE_URL": url,
        "CERCLE_SECRET_KEY": "bench-" + "x" * 40,
        "CERCLE_DOMAIN": DOMAIN,
        "CERCLE_SCHEME": "http",
        "CERCLE_CHARTER_DIR": str(ROOT / "charter"),
        "CERCLE_RUN_WORKERS_IN_PROCESS": "false",
    }
    searches = [
        ("/api/v1/search?" + urlencode({"q": QUERIES[i % len(QUERIES)]}), {"Authorization": f"Bearer {t}"})
        for i, t in enumerate(tokens)
    ]
    bare = [("/api/v1/feed/home", {"Authorization": f"Bearer {t}"}) for t in tokens]
    for name, factory, paths in (
        ("bare Starlette endpoint", "bench.bare_app:create", bare),
        ("Cercle search", "bench.search:search_app", searches),
    ):
        server = serve(factory, env, workdir / f"{label}-{name.split()[0]}.log")
        try:
            asyncio.run(drive(server.url, paths, concurrency=args.concurrency, total=min(100, args.requests)))
            result = asyncio.run(drive(server.url, paths, concurrency=args.concurrency, total=args.requests))
        finally:
            server.stop()
        print(f"[{label}] " + result.line(name))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--communities", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--recent", type=int, default=None, help="rank only the newest N matches first (default: RECENT)"
    )
    parser.add_argument(
        "--baseline", action="store_true", help="also measure in process with every match ranked (no bound)"
    )
    parser.add_argument("--no-http", action="store_true", help="in process only")
    args = parser.parse_args()
    if args.recent is None:
        from server.storage import search as store

        args.recent = store.RECENT
    workdir = Path(tempfile.mkdtemp(prefix="cercle-bench-search-"))
    print(
        f"search benchmark: {args.requests} requests, {args.concurrency} concurrent readers; "
        f"logs in {workdir}"
    )
    if args.db in ("sqlite", "both"):
        bench_one("sqlite", f"sqlite+aiosqlite:///{workdir / 'bench.db'}", args, workdir)
    if args.db in ("postgresql", "both"):
        from tests.pg import throwaway_database

        with throwaway_database("bench") as url:
            bench_one("postgresql", url, args, workdir)


if __name__ == "__main__":
    main()
