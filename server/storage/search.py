"""The full-text index: one interface, two backends (SQLite FTS5, PostgreSQL tsvector + GIN).

Every searchable thing is one row of `fts_documents` (created by migration 20261123_0004, not an ORM
model: its index columns differ by dialect), named by `ref` ("post:12", "attachment:3",
"community:4", "person:7", "expertise:7"), with the ids a query filters and joins on, the plain text
shown in snippets, and the text search configuration of its language (french, german, english,
simple).

- PostgreSQL computes `tsv` itself (a generated column, weights A for the title and B for the body)
  with the row's configuration; a query is the OR of `plainto_tsquery` under every configuration, so
  "réunions" finds a French "réunion" and "Häuser" a German "Haus" without knowing the query's
  language. Ranked by `ts_rank`.
- SQLite's FTS5 has no stemmer for these languages, so this module stems (Snowball, through the
  `snowballstemmer` package) into `title_terms`/`body_terms`, and FTS5 indexes those with
  `unicode61 remove_diacritics 2` (case and accents folded). Triggers keep the FTS5 table in step
  with `fts_documents`, including cascaded deletes. A query word matches any of its stems in the
  supported languages or its folded form. Ranked by `bm25`.

Who may see a hit is decided in the same SELECT (the rules of `services.permissions`, written as
SQL over live rows), so a page is never filtered after the fact and the index never needs to know
about memberships: a post moved to a secret community, held or deleted is hidden at once. A person is
a hit only when the viewer may know them (`server.storage.acquaintances`, the rule of the people
directory and the mention suggestions): a remote member of a secret community is not found by those
outside it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.acquaintances import KnownPeople, known
from server.storage.base import UTCDateTime
from server.storage.models import User
from server.storage.social import Actor, Community, Membership, Post, PostCommunity, Profile

KINDS = ("post", "comment", "document", "community", "person")
CONTENT_KINDS = frozenset({"post", "comment", "document"})
LANGUAGES = {"fr": "french", "de": "german", "en": "english"}
CONFIGS = (*LANGUAGES.values(), "simple")
STAFF = ("owner", "manager", "moderator")
MAX_QUERY_WORDS = 12
MAXWORD = 60

documents = table(
    "fts_documents",
    column("id", Integer),
    column("ref", String),
    column("kind", String),
    column("post_id", Integer),
    column("root_id", Integer),
    column("community_id", Integer),
    column("actor_id", Integer),
    column("attachment_id", Integer),
    column("has_attachment", Boolean),
    column("created_at", UTCDateTime()),
    column("title", Text),
    column("body", Text),
    column("config", String),
    column("title_terms", Text),
    column("body_terms", Text),
)
fts_index = table("fts_index", column("rowid", Integer))
_pg_documents = table(
    "fts_documents",
    *[
        column(c.name, c.type)
        for c in documents.columns
        if c.name != "id" and not c.name.endswith("_terms") and c.name != "config"
    ],
    column("config", postgresql.REGCONFIG()),
)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic `include_name` hook: the index tables are dialect-specific and not models."""
    return not (type_ == "table" and name is not None and name.startswith("fts_"))


# --- text analysis -------------------------------------------------------------------------------------

WORD = re.compile(r"[^\W_]+")  # what FTS5's unicode61 calls a token: letters and digits
_STOPWORDS: dict[str, frozenset[str]] = {
    "french": frozenset(
        WORD.findall(
            "le la les un une des du de et est sont pour dans sur avec pas que qui nous vous ce cette au aux "
            "par mais ou il elle on ne se sa son ses leur plus"
        )
    ),
    "german": frozenset(
        WORD.findall(
            "der die das und ist sind nicht ein eine einen mit für auf dem den des im zu von wir ihr sie es "
            "auch wie bei oder aber nach"
        )
    ),
    "english": frozenset(
        WORD.findall(
            "the and is are not a an with for on of to in we you it this that be by or but from at as have "
            "has our your"
        )
    ),
}


def words(text: str) -> list[str]:
    return WORD.findall(text)


def fold(word: str) -> str:
    """Lower case without accents, as FTS5's `remove_diacritics 2` sees it."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=8)
def _stemmer(config: str) -> Any:
    return snowballstemmer.stemmer(config)


@lru_cache(maxsize=65536)
def stem(word: str, config: str) -> str:
    lowered = word.casefold()
    if config == "simple" or len(lowered) > MAXWORD:
        return fold(lowered)
    return fold(str(_stemmer(config).stemWord(lowered)))


def guess_config(text: str) -> str:
    """The configuration of the language whose common words are most frequent (simple if none is)."""
    sample = [w.casefold() for w in words(text[:4000])]
    scores = {config: sum(1 for w in sample if w in stop) for config, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda config: scores[config])
    return best if scores[best] >= 2 else "simple"


def config_for(language: str | None, text: str) -> str:
    if language:
        known = LANGUAGES.get(language.lower()[:2])
        if known:
            return known
    return guess_config(text)


def terms(text: str, config: str) -> str:
    return " ".join(stem(word, config) for word in words(text))


def query_words(q: str) -> list[str]:
    return [w for w in words(q) if len(w) <= MAXWORD][:MAX_QUERY_WORDS]


def variants(word: str) -> frozenset[str]:
    """What a query word may match: its folded form and its stem in every supported language."""
    return frozenset({fold(word), *(stem(word, config) for config in LANGUAGES.values())})


def matches(word: str, config: str, wanted: frozenset[str]) -> bool:
    return fold(word) in wanted or stem(word, config) in wanted


def _fts5_query(query_terms: Sequence[str]) -> str:
    return " AND ".join(
        "(" + " OR ".join(f'"{v}"' for v in sorted(variants(word))) + ")" for word in query_terms
    )


# --- writing -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchDocument:
    ref: str
    kind: str
    title: str
    body: str
    created_at: datetime
    config: str
    post_id: int | None = None
    root_id: int | None = None
    community_id: int | None = None
    actor_id: int | None = None
    attachment_id: int | None = None
    has_attachment: bool = False


def _row(document: SearchDocument, dialect: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ref": document.ref,
        "kind": document.kind,
        "post_id": document.post_id,
        "root_id": document.root_id,
        "community_id": document.community_id,
        "actor_id": document.actor_id,
        "attachment_id": document.attachment_id,
        "has_attachment": document.has_attachment,
        "created_at": document.created_at,
        "title": document.title,
        "body": document.body,
        "config": document.config,
    }
    if dialect == "sqlite":
        row["title_terms"] = terms(document.title, document.config)
        row["body_terms"] = terms(document.body, document.config)
    return row


async def upsert_documents(session: AsyncSession, items: Sequence[SearchDocument]) -> None:
    """Add or replace documents by `ref`."""
    if not items:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(_pg_documents)
        pg = pg.on_conflict_do_update(
            index_elements=["ref"],
            set_={c.name: pg.excluded[c.name] for c in _pg_documents.columns if c.name != "ref"},
        )
        await session.execute(pg, [_row(item, dialect) for item in items])
        return
    lite = sqlite.insert(documents)
    lite = lite.on_conflict_do_update(
        index_elements=["ref"],
        set_={c.name: lite.excluded[c.name] for c in documents.columns if c.name not in ("id", "ref")},
    )
    await session.execute(lite, [_row(item, dialect) for item in items])


async def delete_documents(session: AsyncSession, refs: Iterable[str]) -> None:
    wanted = list(refs)
    if wanted:
        await session.execute(delete(documents).where(documents.c.ref.in_(wanted)))


async def delete_post_documents(session: AsyncSession, post_id: int) -> None:
    """The post's own document and those of its attachments."""
    await session.execute(delete(documents).where(documents.c.post_id == post_id))


async def delete_all_documents(session: AsyncSession) -> None:
    await session.execute(delete(documents))


async def count_documents(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(documents.c.kind, func.count()).group_by(documents.c.kind))
    return {kind: int(count) for kind, count in rows.all()}


# --- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchQuery:
    viewer_actor_id: int
    words: Sequence[str]
    kinds: frozenset[str] = frozenset(KINDS)
    community_id: int | None = None
    author_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    has_attachment: bool | None = None
    limit: int = 20
    offset: int = 0
    people: KnownPeople | None = None  # whom the viewer may know; None: people of this instance only


@dataclass(frozen=True)
class Hit:
    id: int
    kind: str
    post_id: int | None
    root_id: int | None
    community_id: int | None
    actor_id: int | None
    attachment_id: int | None
    created_at: datetime
    title: str
    body: str
    config: str
    rank: float


@dataclass(frozen=True)
class HitPage:
    hits: list[Hit]
    more: bool
    extra: dict[str, Any] = field(default_factory=dict)


def _member(viewer: int, community: Any, *, roles: Sequence[str] | None = None) -> ColumnElement[bool]:
    condition = [
        Membership.community_id == community,
        Membership.actor_id == viewer,
        Membership.state == "active",
    ]
    if roles is not None:
        condition.append(Membership.role.in_(roles))
    return exists().where(*condition)


def _content_visible(viewer: int) -> ColumnElement[bool]:
    """`permissions.readable_post_ids` in SQL, for the hit's post `p` and its thread's root `r`."""
    p = Post.__table__.alias("p")
    r = Post.__table__.alias("r")
    share = PostCommunity.__table__.alias("share")
    place = Community.__table__.alias("place")
    staff_of_root = exists().where(
        share.c.post_id == r.c.id, _member(viewer, share.c.community_id, roles=STAFF)
    )
    shared = exists().where(share.c.post_id == r.c.id)
    readable_place = (
        select(literal(1))
        .select_from(share.join(place, place.c.id == share.c.community_id))
        .where(
            share.c.post_id == r.c.id,
            or_(place.c.visibility == "open", _member(viewer, place.c.id)),
        )
        .exists()
    )
    root_readable = or_(
        r.c.author_id == viewer,
        and_(r.c.held.is_(True), staff_of_root),
        and_(r.c.held.is_(False), or_(and_(r.c.on_profile.is_(True), not_(shared)), readable_place)),
    )
    return (
        select(literal(1))
        .select_from(p.join(r, r.c.id == func.coalesce(p.c.root_id, p.c.id)))
        .where(
            p.c.id == documents.c.post_id,
            p.c.deleted_at.is_(None),
            or_(p.c.held.is_(False), p.c.author_id == viewer, staff_of_root),
            root_readable,
        )
        .exists()
    )


def _community_visible(viewer: int) -> ColumnElement[bool]:
    c = Community.__table__.alias("seen")
    m = Membership.__table__.alias("m_seen")
    known = exists().where(
        m.c.community_id == c.c.id, m.c.actor_id == viewer, m.c.state.in_(("active", "invited"))
    )
    return exists().where(c.c.id == documents.c.community_id, or_(c.c.visibility != "secret", known))


def _person_visible(people: KnownPeople | None) -> ColumnElement[bool]:
    a = Actor.__table__.alias("person")
    u = User.__table__.alias("account")
    disabled = exists().where(u.c.actor_id == a.c.id, u.c.disabled_at.is_not(None))
    return exists().where(
        a.c.id == documents.c.actor_id,
        a.c.deleted_at.is_(None),
        not_(disabled),
        known(people, a.c.id, a.c.local),
    )


def visible(viewer: int, people: KnownPeople | None = None) -> ColumnElement[bool]:
    kind = documents.c.kind
    return or_(
        and_(kind.in_(CONTENT_KINDS), _content_visible(viewer)),
        and_(kind == "community", _community_visible(viewer)),
        and_(kind == "person", _person_visible(people)),
    )


def _filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    d = documents.c
    conditions: list[ColumnElement[bool]] = [d.kind.in_(sorted(query.kinds))]
    if query.community_id is not None:
        pc = PostCommunity.__table__.alias("in_place")
        conditions.append(
            or_(
                d.community_id == query.community_id,
                exists().where(pc.c.post_id == d.root_id, pc.c.community_id == query.community_id),
            )
        )
    if query.author_id is not None:
        conditions.append(and_(d.actor_id == query.author_id, d.kind.in_(CONTENT_KINDS)))
    if query.since is not None:
        conditions.append(d.created_at >= query.since)
    if query.until is not None:
        conditions.append(d.created_at < query.until)
    if query.has_attachment is not None:
        conditions.append(d.has_attachment.is_(query.has_attachment))
    return conditions


def _pg_tsquery(query_terms: Sequence[str]) -> ColumnElement[Any]:
    text = " ".join(query_terms)
    parts = [func.plainto_tsquery(literal_column(f"'{config}'::regconfig"), text) for config in CONFIGS]
    combined: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        combined = combined.op("||")(part)
    return combined


FIRST_WINDOW = 60
WIDER = 8
RECENT = 2_000
"""Above this many text matches, only the newest `RECENT` are ranked first (then the next `RECENT × 7`…);
0 ranks every match (the behaviour before the bound, kept for `bench/search.py --baseline`)."""


def _text_match(query_terms: Sequence[str], dialect: str) -> tuple[ColumnElement[Any], ColumnElement[bool]]:
    """(the column naming a match's document id, the text condition) straight on the index."""
    if dialect == "postgresql":
        return documents.c.id, literal_column("fts_documents.tsv").op("@@")(_pg_tsquery(query_terms))
    return fts_index.c.rowid, literal_column("fts_index").op("MATCH")(_fts5_query(query_terms))


async def _nth_newest(session: AsyncSession, query_terms: Sequence[str], dialect: str, n: int) -> int | None:
    """The id of the `n`-th newest text match (no other filter), or None when there are fewer.

    Read from the index alone and cheap on both backends: FTS5 walks its doclists by rowid, newest
    first; PostgreSQL reads the GIN bitmap (or the primary key backwards) without ranking anything.
    """
    key, condition = _text_match(query_terms, dialect)
    statement = select(key).where(condition).order_by(key.desc()).offset(n - 1).limit(1)
    found = (await session.execute(statement)).scalar()
    return None if found is None else int(found)


def _candidates(query: SearchQuery, dialect: str, window: int | None, bounds: Sequence[int | None]) -> Any:
    """The first `window` matches in (recency tier, text rank) order, with the cheap filters (no
    visibility yet), as a subquery.

    `bounds` are descending id bounds: tier 0 is every match with id >= bounds[0], tier 1 those with
    id >= bounds[1], and so on; a last bound of None takes in every older match. Only matches of
    these tiers are ranked.
    """
    d = documents.c
    filters = _filters(query)
    key, condition = _text_match(query.words, dialect)
    rank: ColumnElement[Any]
    if dialect == "postgresql":
        rank = func.ts_rank(literal_column("fts_documents.tsv"), _pg_tsquery(query.words))
        statement = select(d.id.label("doc_id"), rank.label("rank"))
    else:
        rank = -func.bm25(literal_column("fts_index"), 4.0, 1.0)
        statement = select(d.id.label("doc_id"), rank.label("rank")).select_from(
            fts_index.join(documents, d.id == fts_index.c.rowid)
        )
    limits = [b for b in bounds if b is not None]
    tier: ColumnElement[Any] = literal(0)
    if limits:
        tier = case(*[(key >= b, i) for i, b in enumerate(limits)], else_=len(limits))
        if bounds[-1] is not None:
            filters.append(key >= limits[-1])
    statement = statement.add_columns(tier.label("tier")).where(condition, *filters)
    if window is not None:
        statement = statement.order_by(literal_column("tier"), literal_column("rank").desc(), d.id).limit(
            window
        )
    return statement.subquery("candidates")


async def search(session: AsyncSession, query: SearchQuery) -> HitPage:
    """One page of hits the viewer may see, best first.

    Matches are ordered by recency tier, then text rank. When a query matches at most `RECENT`
    documents there is one tier (plain rank order). Above that, the newest `RECENT` matches (by id, as
    the index finds them) form tier 0 and are the only ones ranked, unless they hold too few visible
    hits for the page: then the next tier (down to the `RECENT × 8`-th newest match, then × 64…, up
    to every match) is added. A very common word thus costs the ranking of `RECENT` rows, not of
    every match, and the order is the same whichever page asks, so pages neither repeat nor skip.

    Within the tiers, the text index ranks a window of the best matches (cheap filters applied);
    visibility, the costly part, is then checked in the same SELECT over that window only. When the
    window holds fewer visible hits than the page needs and more matches exist, it is widened and the
    SELECT repeated: a page is never short while hits remain.
    """
    if not query.words or not query.kinds:
        return HitPage(hits=[], more=False)
    d = documents.c
    dialect = session.get_bind().dialect.name
    shown: list[ColumnElement[Any]] = [
        c for c in documents.columns if c.name not in ("config", "title_terms", "body_terms")
    ]
    shown.append(cast(d.config, Text).label("config"))
    need = query.offset + query.limit + 1
    first = max(FIRST_WINDOW, need * 2)
    window: int | None = first
    bounds: list[int | None] = [await _nth_newest(session, query.words, dialect, RECENT) if RECENT else None]
    while True:
        candidates = _candidates(query, dialect, window, bounds)
        statement = (
            select(*shown, candidates.c.rank)
            .select_from(candidates.join(documents, d.id == candidates.c.doc_id))
            .where(visible(query.viewer_actor_id, query.people))
            .order_by(candidates.c.tier, candidates.c.rank.desc(), d.id)
            .offset(query.offset)
            .limit(query.limit + 1)
        )
        rows = (await session.execute(statement)).all()
        if len(rows) > query.limit:
            break
        matched = int(
            (
                await session.execute(
                    select(func.count()).select_from(_candidates(query, dialect, None, bounds))
                )
            ).scalar()
            or 0
        )
        if window is not None and matched > window:  # more matches in these tiers: widen the window
            window = window * WIDER if window * WIDER < matched else None
            continue
        if bounds[-1] is None:  # every match was looked at
            break
        bounds.append(await _nth_newest(session, query.words, dialect, RECENT * WIDER ** len(bounds)))
        window = matched + first
    hits = [
        Hit(
            id=row.id,
            kind=row.kind,
            post_id=row.post_id,
            root_id=row.root_id,
            community_id=row.community_id,
            actor_id=row.actor_id,
            attachment_id=row.attachment_id,
            created_at=row.created_at,
            title=row.title,
            body=row.body,
            config=str(row.config),
            rank=float(row.rank or 0.0),
        )
        for row in rows[: query.limit]
    ]
    return HitPage(hits=hits, more=len(rows) > query.limit)


async def match_ids(
    session: AsyncSession,
    query_terms: Sequence[str],
    kind: str,
    *,
    limit: int,
    people: KnownPeople | None = None,
) -> list[tuple[int, float]]:
    """(actor_id or community_id, rank) of the best `kind` documents. For a person's documents
    ("person", "expertise") only people the viewer may know (`people`; None: people of this instance)
    count, before the limit; callers apply the rest of visibility."""
    if not query_terms:
        return []
    d = documents.c
    key = d.community_id if kind == "community" else d.actor_id
    conditions: list[ColumnElement[bool]] = [d.kind == kind]
    if kind != "community":
        who = Actor.__table__.alias("known_person")
        conditions.append(exists().where(who.c.id == d.actor_id, known(people, who.c.id, who.c.local)))
    if session.get_bind().dialect.name == "postgresql":
        tsquery = _pg_tsquery(query_terms)
        rank = func.ts_rank(literal_column("fts_documents.tsv"), tsquery)
        statement = (
            select(key, rank)
            .where(literal_column("fts_documents.tsv").op("@@")(tsquery), *conditions)
            .order_by(rank.desc())
        )
    else:
        bm25 = func.bm25(literal_column("fts_index"), 4.0, 1.0)
        statement = (
            select(key, -bm25)
            .select_from(fts_index.join(documents, d.id == fts_index.c.rowid))
            .where(literal_column("fts_index").op("MATCH")(_fts5_query(query_terms)), *conditions)
            .order_by(bm25)
        )
    rows = (await session.execute(statement.limit(limit))).all()
    return [(int(k), float(r)) for k, r in rows if k is not None]


async def readable_community_ids(session: AsyncSession, viewer: int, ids: Sequence[int]) -> set[int]:
    """Which of these communities the viewer may READ (open, or an active membership)."""
    if not ids:
        return set()
    statement = select(Community.id).where(
        Community.id.in_(set(ids)), or_(Community.visibility == "open", _member(viewer, Community.id))
    )
    return set((await session.execute(statement)).scalars())


async def activity_in(
    session: AsyncSession, community_ids: Sequence[int], since: datetime, *, limit: int
) -> list[tuple[int, int]]:
    """(author actor id, posts and comments) in these communities since `since`, most active first."""
    if not community_ids:
        return []
    wanted = set(community_ids)
    roots = (
        select(Post.author_id.label("author_id"), Post.id.label("id"))
        .join(PostCommunity, PostCommunity.post_id == Post.id)
        .where(PostCommunity.community_id.in_(wanted), Post.created_at >= since)
        .where(Post.deleted_at.is_(None), Post.held.is_(False))
    )
    comments = (
        select(Post.author_id.label("author_id"), Post.id.label("id"))
        .join(PostCommunity, PostCommunity.post_id == Post.root_id)
        .where(PostCommunity.community_id.in_(wanted), Post.created_at >= since)
        .where(Post.deleted_at.is_(None), Post.held.is_(False))
    )
    both = roots.union(comments).subquery()
    count = func.count()
    statement = select(both.c.author_id, count).group_by(both.c.author_id).order_by(count.desc()).limit(limit)
    return [(int(a), int(n)) for a, n in (await session.execute(statement)).all()]


async def thread_titles(session: AsyncSession, root_ids: Iterable[int]) -> dict[int, str]:
    wanted = set(root_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Post.id, Post.title, Post.deleted_at).where(Post.id.in_(wanted)))
    return {pid: ("" if deleted else title) for pid, title, deleted in rows.all()}


async def live_posts_after(session: AsyncSession, last_id: int, limit: int) -> list[Post]:
    """Posts not deleted with an id above `last_id`, in id order: the reindex walks them in batches."""
    query = select(Post).where(Post.id > last_id, Post.deleted_at.is_(None)).order_by(Post.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def all_communities(session: AsyncSession) -> list[Community]:
    return list((await session.execute(select(Community))).scalars())


async def people_with_profiles(session: AsyncSession) -> list[tuple[Actor, Profile]]:
    query = (
        select(Actor, Profile).join(Profile, Profile.actor_id == Actor.id).where(Actor.deleted_at.is_(None))
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]
