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
    bindparam,
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
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.acquaintances import KnownPeople, known, known_by_parameters
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


@lru_cache(maxsize=65536)
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
class Author:
    """Who wrote a post or comment hit, as a result shows them."""

    username: str
    domain: str
    display_name: str
    local: bool


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
    author: Author | None = None  # of a post, comment or document hit
    thread_title: str | None = None  # of the hit's thread ("" when its root is deleted); None: no thread


@dataclass(frozen=True)
class HitPage:
    hits: list[Hit]
    more: bool
    extra: dict[str, Any] = field(default_factory=dict)


def _member(viewer: Any, community: Any, *, roles: Sequence[str] | None = None) -> ColumnElement[bool]:
    condition = [
        Membership.community_id == community,
        Membership.actor_id == viewer,
        Membership.state == "active",
    ]
    if roles is not None:
        condition.append(Membership.role.in_(roles))
    return exists().where(*condition)


# The aliases the conditions below read through, made once: an alias of a wide table builds a proxy per
# column, which took milliseconds per query when made afresh.
_p = Post.__table__.alias("p")
_r = Post.__table__.alias("r")
_share = PostCommunity.__table__.alias("share")
_place = Community.__table__.alias("place")
_seen = Community.__table__.alias("seen")
_m_seen = Membership.__table__.alias("m_seen")
_person = Actor.__table__.alias("person")
_account = User.__table__.alias("account")
_in_place = PostCommunity.__table__.alias("in_place")
_known_person = Actor.__table__.alias("known_person")
_author = Actor.__table__.alias("author")
_thread = Post.__table__.alias("thread")

# The statements of a search are written with bound parameters, the same SQL for every viewer and every
# query of a shape (`_Shape`), and built once per shape: building the visibility conditions and the
# cache key of so large a statement cost more than running it on SQLite. `_parameters` gives the values.
_VIEWER = bindparam("viewer", type_=Integer)
_PEOPLE = "seen_by"  # the prefix of the parameters of the people the viewer may know
_FTS = bindparam("fts", type_=String)  # SQLite: the FTS5 query
_TSQUERY = bindparam("tsquery", type_=Text, literal_execute=True)  # PostgreSQL: what matches
_RANKED = bindparam("ranked", type_=Text, literal_execute=True)  # PostgreSQL: the words ranked
_RECENT = bindparam("recent", type_=Integer, literal_execute=True)
_WINDOW = bindparam("window", type_=Integer, literal_execute=True)
_OFFSET = bindparam("page_offset", type_=Integer)
_LIMIT = bindparam("page_limit", type_=Integer)
_COMMUNITY = bindparam("community_id", type_=Integer)
_AUTHOR = bindparam("author_id", type_=Integer)
_SINCE = bindparam("since", type_=UTCDateTime())
_UNTIL = bindparam("until", type_=UTCDateTime())


@dataclass(frozen=True)
class _Shape:
    """What a search's SQL depends on, as opposed to the values of its parameters."""

    dialect: str
    kinds: frozenset[str]
    community: bool
    author: bool
    since: bool
    until: bool
    has_attachment: bool | None
    scoped: bool  # whom the viewer may know is given (else: people of this instance only)

    @classmethod
    def of(cls, query: SearchQuery, dialect: str) -> _Shape:
        return cls(
            dialect=dialect,
            kinds=frozenset(query.kinds),
            community=query.community_id is not None,
            author=query.author_id is not None,
            since=query.since is not None,
            until=query.until is not None,
            has_attachment=query.has_attachment,
            scoped=query.people is not None,
        )


def _content_visible() -> ColumnElement[bool]:
    """`permissions.readable_post_ids` in SQL, for the hit's post `p` and its thread's root `r`."""
    viewer, p, r, share, place = _VIEWER, _p, _r, _share, _place
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


def _community_visible() -> ColumnElement[bool]:
    c, m = _seen, _m_seen
    known = exists().where(
        m.c.community_id == c.c.id, m.c.actor_id == _VIEWER, m.c.state.in_(("active", "invited"))
    )
    return exists().where(c.c.id == documents.c.community_id, or_(c.c.visibility != "secret", known))


def _person_visible(shape: _Shape) -> ColumnElement[bool]:
    a, u = _person, _account
    disabled = exists().where(u.c.actor_id == a.c.id, u.c.disabled_at.is_not(None))
    may_know = (
        known_by_parameters(_PEOPLE, shape.dialect, a.c.id, a.c.local)
        if shape.scoped
        else a.c.local.is_(True)
    )
    return exists().where(a.c.id == documents.c.actor_id, a.c.deleted_at.is_(None), not_(disabled), may_know)


def visible(shape: _Shape) -> ColumnElement[bool]:
    """Whether the viewer (`viewer`) may see the document: the rules of `services.permissions` over
    live rows, and for a person the people the viewer may know (`seen_by_…`; of this instance only
    when the shape has no such scope)."""
    kind = documents.c.kind
    return or_(
        and_(kind.in_(CONTENT_KINDS), _content_visible()),
        and_(kind == "community", _community_visible()),
        and_(kind == "person", _person_visible(shape)),
    )


def _filters(shape: _Shape, d: Any = documents.c, *, every_kind: bool = True) -> list[ColumnElement[bool]]:
    """The cheap conditions (kinds, place, author, dates, attachment) over the columns `d` (the table's
    or a subquery's with the same names). `every_kind=False` leaves the kinds out when every kind is
    asked for (see `_newest_candidates`)."""
    conditions: list[ColumnElement[bool]] = []
    if every_kind or shape.kinds != frozenset(KINDS):
        conditions.append(d.kind.in_(sorted(shape.kinds)))
    if shape.community:
        pc = _in_place
        conditions.append(
            or_(
                d.community_id == _COMMUNITY,
                exists().where(pc.c.post_id == d.root_id, pc.c.community_id == _COMMUNITY),
            )
        )
    if shape.author:
        conditions.append(and_(d.actor_id == _AUTHOR, d.kind.in_(CONTENT_KINDS)))
    if shape.since:
        conditions.append(d.created_at >= _SINCE)
    if shape.until:
        conditions.append(d.created_at < _UNTIL)
    if shape.has_attachment is not None:
        conditions.append(d.has_attachment.is_(shape.has_attachment))
    return conditions


def _pg_tsquery(words: Any) -> ColumnElement[Any]:
    """The OR of `plainto_tsquery` of `words` under every configuration: what `ts_rank` scores with."""
    parts = [func.plainto_tsquery(literal_column(f"'{config}'::regconfig"), words) for config in CONFIGS]
    combined: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        combined = combined.op("||")(part)
    return combined


def _constant(n: int) -> ColumnElement[Any]:
    """A number written into the SQL rather than sent as a parameter: PostgreSQL plans with it (a
    prepared statement's generic plan is never one made for another row count)."""
    return literal(n, Integer, literal_execute=True)


@dataclass(frozen=True)
class _Text:
    """A query's words as the index reads them (the values of the text parameters).

    SQLite: `query` is the FTS5 query (each word: its folded form or one of its stems). PostgreSQL:
    `query` is the distinct `plainto_tsquery` results of the configurations, OR-ed, what matches (often
    all four are the same: "'projet' & 'client'" four times over made the planner expect four times
    as many matches as there were, and read the primary key backwards through most of the table for
    a pair of words it thought common); `ts_rank` keeps the OR of all four (`_pg_tsquery` of the
    words), so scores are what they were. On PostgreSQL both are written into the SQL as quoted
    literals (letters, digits and tsquery operators), so that it plans for these very words, even in
    a prepared statement's generic plan, and folds the `plainto_tsquery` calls to a constant (as
    parameters, a generic plan would have run them on every row ranked).
    """

    dialect: str
    words: tuple[str, ...]
    query: str

    def parameters(self) -> dict[str, Any]:
        if self.dialect == "postgresql":
            return {"tsquery": self.query, "ranked": " ".join(self.words)}
        return {"fts": self.query}


def _key(dialect: str) -> ColumnElement[Any]:
    """The column naming a match's document id, straight on the index."""
    return documents.c.id if dialect == "postgresql" else fts_index.c.rowid


def _matching(dialect: str) -> ColumnElement[bool]:
    """The text condition, on the index (parameters: `_Text.parameters`)."""
    if dialect == "postgresql":
        return literal_column("fts_documents.tsv").op("@@")(cast(_TSQUERY, postgresql.TSQUERY))
    return literal_column("fts_index").op("MATCH")(_FTS)


def _ranking(dialect: str, tsv: ColumnElement[Any] | None = None) -> ColumnElement[Any]:
    """Higher is better: `ts_rank` of `tsv` (the table's by default), or minus FTS5's `bm25`."""
    if dialect == "postgresql":
        vector = literal_column("fts_documents.tsv") if tsv is None else tsv
        return func.ts_rank(vector, _pg_tsquery(_RANKED))
    return -func.bm25(literal_column("fts_index"), 4.0, 1.0)


_PG_TSQUERIES = select(
    *[
        cast(
            func.plainto_tsquery(literal_column(f"'{config}'::regconfig"), bindparam("words", type_=Text)),
            Text,
        )
        for config in CONFIGS
    ]
)
_PG_TSQUERIES_PLANNED_ONCE = _PG_TSQUERIES.add_columns(
    func.set_config("plan_cache_mode", "force_generic_plan", True)
)
_PLAN_AS_USUAL = sql_text("SET LOCAL plan_cache_mode TO DEFAULT")


async def _text(
    session: AsyncSession, query_terms: Sequence[str], *, plan_once: bool = False
) -> _Text | None:
    """The query's text condition; None when nothing can match (every word a stop word everywhere).

    `plan_once`: on PostgreSQL, the rest of the transaction plans each prepared statement once and
    keeps the plan (`plan_cache_mode`, until `_plan_as_usual`), in the same round trip. A search's
    statements carry their words and row counts in their text, so a kept plan is the one these words
    would get anyway; planning them anew every time (what PostgreSQL chose, its estimate of a kept
    plan being inflated by the parameters that stand for constants) cost more than running them.
    """
    dialect = session.get_bind().dialect.name
    words = tuple(query_terms)
    if dialect != "postgresql":
        return _Text(dialect, words, _fts5_query(words))
    statement = _PG_TSQUERIES_PLANNED_ONCE if plan_once else _PG_TSQUERIES
    row = (await session.execute(statement, {"words": " ".join(words)})).one()
    parts = list(dict.fromkeys(str(part) for part in row[: len(CONFIGS)] if part))
    return _Text(dialect, words, " | ".join(f"( {part} )" for part in parts)) if parts else None


def _parameters(query: SearchQuery, text: _Text) -> dict[str, Any]:
    """The values of a search's parameters (see `_Shape`)."""
    values: dict[str, Any] = {
        "viewer": query.viewer_actor_id,
        "recent": RECENT,
        "page_offset": query.offset,
        "page_limit": query.limit + 1,
        "community_id": query.community_id,
        "author_id": query.author_id,
        "since": query.since,
        "until": query.until,
        **text.parameters(),
    }
    if query.people is not None:
        values.update(query.people.parameters(_PEOPLE))
    return values


FIRST_WINDOW = 60
WIDER = 8
RECENT = 2_000
"""Above this many text matches, only the newest `RECENT` are ranked first (then the next `RECENT × 7`…);
0 ranks every match (the behaviour before the bound, kept for `bench/search.py --baseline`)."""


async def _nth_newest(session: AsyncSession, text: _Text, n: int) -> int | None:
    """The id of the `n`-th newest text match (no other filter), or None when there are fewer.

    Read from the index alone: FTS5 walks its doclists by rowid, newest first; PostgreSQL reads the
    GIN bitmap (or the primary key backwards) without ranking anything.
    """
    key = _key(text.dialect)
    statement = (
        select(key).where(_matching(text.dialect)).order_by(key.desc()).offset(_constant(n - 1)).limit(1)
    )
    found = (await session.execute(statement, text.parameters())).scalar()
    return None if found is None else int(found)


def _newest_candidates(shape: _Shape, windowed: bool) -> Any:
    """Tier 0 in one step, as a subquery: the newest `RECENT` text matches (no other filter), ranked,
    the cheap filters applied, the first `window` of them in rank order (every one unless
    `windowed`). Each row tells `n_text`, how many matches the tier holds (fewer than `RECENT`: every
    match), and `n_cand`, how many of them pass the filters (more than the window: it may be widened).

    The index is read newest first and cut at `RECENT` before anything is ranked: FTS5 walks its
    doclists by rowid and computes `bm25` for those rows only; PostgreSQL walks the primary key
    backwards checking the text condition, or for a rarer word sorts the GIN matches by id, and runs
    `ts_rank` above the cut.

    When every kind is asked for, the kinds are not a filter here: they only leave out documents of
    no kind a hit may have (a person's expertise), which `visible` never lets through and
    `_visible_page` filters by kind again. So the window skips that condition and, on SQLite, the read
    of each of the tier's rows that it needed.
    """
    d = documents.c
    key = _key(shape.dialect)
    # Without filters every match of the tier is a candidate: one count tells both numbers.
    filtering = bool(_filters(shape, d, every_kind=False))
    in_tier: list[ColumnElement[Any]] = [func.count().over().label("n_text")] if filtering else []
    if shape.dialect == "postgresql":
        tsv: ColumnElement[Any] = literal_column("fts_documents.tsv")
        filtered = [d.kind, d.root_id, d.community_id, d.actor_id, d.created_at, d.has_attachment]
        cut = (
            select(d.id, *filtered, tsv.label("tsv"))
            .where(_matching(shape.dialect))
            .order_by(d.id.desc())
            .limit(_RECENT)
            .subquery("newest_cut")
        )
        newest = select(
            *[c for c in cut.c if c.name != "tsv"],
            _ranking(shape.dialect, cut.c.tsv).label("rank"),
            *in_tier,
        ).subquery("newest")
        source: Any = newest
        conditions = _filters(shape, newest.c, every_kind=False)
    else:
        cut = (
            select(key.label("id"), _ranking(shape.dialect).label("rank"))
            .where(_matching(shape.dialect))
            .order_by(key.desc())
            .limit(_RECENT)
            .subquery("newest_cut")
        )
        newest = select(cut.c.id, cut.c.rank, *in_tier).subquery("newest") if filtering else cut
        conditions = _filters(shape, d, every_kind=False)
        source = newest.join(documents, d.id == newest.c.id) if conditions else newest
    passing = func.count().over()
    statement = (
        select(
            newest.c.id.label("doc_id"),
            newest.c.rank,
            literal(0).label("tier"),
            (newest.c.n_text if filtering else passing).label("n_text"),
            passing.label("n_cand"),
        )
        .select_from(source)
        .where(*conditions)
        .order_by(newest.c.rank.desc(), newest.c.id)
    )
    if windowed:
        statement = statement.limit(_WINDOW)
    return statement.subquery("candidates")


@lru_cache(maxsize=256)
def _tier_zero(shape: _Shape, windowed: bool) -> Any:
    """The page of tier 0 (`_newest_candidates`) the viewer may see, with `n_text` and `n_cand`: one
    statement per shape, kept (its parameters: `_parameters` and `window`)."""
    candidates = _newest_candidates(shape, windowed)
    return _visible_page(shape, candidates, candidates.c.n_text, candidates.c.n_cand)


def _candidates(shape: _Shape, window: int | None, bounds: Sequence[int | None]) -> Any:
    """The first `window` matches in (recency tier, text rank) order, with the cheap filters (no
    visibility yet), as a subquery.

    `bounds` are descending id bounds: tier 0 is every match with id >= bounds[0], tier 1 those with
    id >= bounds[1], and so on; a last bound of None takes in every older match. Only matches of
    these tiers are ranked.
    """
    d = documents.c
    filters = _filters(shape)
    key = _key(shape.dialect)
    statement = select(d.id.label("doc_id"), _ranking(shape.dialect).label("rank"))
    if shape.dialect != "postgresql":
        statement = statement.select_from(fts_index.join(documents, d.id == fts_index.c.rowid))
    limits = [b for b in bounds if b is not None]
    tier: ColumnElement[Any] = literal(0)
    if limits:
        tier = case(*[(key >= _constant(b), i) for i, b in enumerate(limits)], else_=len(limits))
        if bounds[-1] is not None:
            filters.append(key >= _constant(limits[-1]))
    statement = statement.add_columns(tier.label("tier")).where(_matching(shape.dialect), *filters)
    if window is not None:
        statement = statement.order_by(literal_column("tier"), literal_column("rank").desc(), d.id).limit(
            _constant(window)
        )
    return statement.subquery("candidates")


def _visible_page(shape: _Shape, candidates: Any, *extra: Any) -> Any:
    """The page of `candidates` the viewer may see, in (tier, rank, id) order: visibility is decided
    here, in the same SELECT, over the window of candidates only. Each hit comes with its author (for
    content) and its thread's title, which a result shows."""
    d = documents.c
    shown: list[ColumnElement[Any]] = [
        c for c in documents.columns if c.name not in ("config", "title_terms", "body_terms")
    ]
    shown.append(cast(d.config, Text).label("config"))
    shown += [
        _author.c.username.label("author_username"),
        _author.c.domain.label("author_domain"),
        _author.c.display_name.label("author_display_name"),
        _author.c.local.label("author_local"),
        _thread.c.title.label("thread_title"),
        _thread.c.deleted_at.label("thread_deleted_at"),
    ]
    return (
        select(*shown, candidates.c.rank, *extra)
        .select_from(
            candidates.join(documents, d.id == candidates.c.doc_id)
            .outerjoin(_author, and_(d.kind.in_(CONTENT_KINDS), _author.c.id == d.actor_id))
            .outerjoin(_thread, _thread.c.id == d.root_id)
        )
        .where(d.kind.in_(sorted(shape.kinds)), visible(shape))
        .order_by(candidates.c.tier, candidates.c.rank.desc(), d.id)
        .offset(_OFFSET)
        .limit(_LIMIT)
    )


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

    Tier 0 is one statement (`_tier_zero`: cut, rank, filters, visibility), which also tells how many
    matches the tier holds: a full page, or a query with fewer matches than `RECENT`, needs no other.
    The later tiers (`_candidates`, with id bounds from `_nth_newest`) are read only when tier 0 holds
    too few visible hits for the page.
    """
    if not query.words or not query.kinds:
        return HitPage(hits=[], more=False)
    text = await _text(session, query.words, plan_once=True)
    if text is None:
        await _plan_as_usual(session)
        return HitPage(hits=[], more=False)
    page = await _search(session, query, text)
    await _plan_as_usual(session)
    return page


async def _plan_as_usual(session: AsyncSession) -> None:
    """Undo `_text(plan_once=True)` for the rest of the transaction. (Should a search fail, the setting
    ends with its transaction.)"""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_PLAN_AS_USUAL)


async def _search(session: AsyncSession, query: SearchQuery, text: _Text) -> HitPage:
    """`search`, once the words are read."""
    shape = _Shape.of(query, text.dialect)
    values = _parameters(query, text)
    need = query.offset + query.limit + 1
    first = max(FIRST_WINDOW, need * 2)
    window: int | None = first
    rows: Sequence[Any] = []
    bounds: list[int | None] = [None]
    if RECENT:
        while True:
            statement = _tier_zero(shape, window is not None)
            rows = (await session.execute(statement, {**values, "window": window})).all()
            if len(rows) > query.limit:
                return _page(rows, query.limit)
            if rows:
                in_tier, passing = int(rows[0].n_text), int(rows[0].n_cand)
            else:  # nothing visible in the window: count the tier apart
                in_tier, passing = await _newest_counts(session, shape, values)
            if window is not None and passing > window:  # more of tier 0 to look at: widen the window
                window = window * WIDER if window * WIDER < passing else None
                continue
            break
        if in_tier < RECENT:  # tier 0 held every match
            return _page(rows, query.limit)
        bounds = [await _nth_newest(session, text, RECENT), await _nth_newest(session, text, RECENT * WIDER)]
        window = passing + first
    while True:
        candidates = _candidates(shape, window, bounds)
        rows = (await session.execute(_visible_page(shape, candidates), values)).all()
        if len(rows) > query.limit:
            break
        counting = select(func.count()).select_from(_candidates(shape, None, bounds))
        matched = int((await session.execute(counting, values)).scalar() or 0)
        if window is not None and matched > window:  # more matches in these tiers: widen the window
            window = window * WIDER if window * WIDER < matched else None
            continue
        if bounds[-1] is None:  # every match was looked at
            break
        bounds.append(await _nth_newest(session, text, RECENT * WIDER ** len(bounds)))
        window = matched + first
    return _page(rows, query.limit)


async def _newest_counts(session: AsyncSession, shape: _Shape, values: dict[str, Any]) -> tuple[int, int]:
    """(text matches in tier 0, those of them passing the cheap filters), for a window with no
    visible hit."""
    key = _key(shape.dialect)
    cut = select(key).where(_matching(shape.dialect)).order_by(key.desc()).limit(_RECENT).subquery()
    statement = select(
        select(func.count()).select_from(cut).scalar_subquery(),
        select(func.count()).select_from(_newest_candidates(shape, False)).scalar_subquery(),
    )
    row = (await session.execute(statement, values)).one()
    return int(row[0] or 0), int(row[1] or 0)


def _page(rows: Sequence[Any], limit: int) -> HitPage:
    hits = [
        Hit(
            author=None
            if row.author_username is None
            else Author(row.author_username, row.author_domain, row.author_display_name, row.author_local),
            thread_title=None
            if row.root_id is None
            else ("" if row.thread_deleted_at is not None or row.thread_title is None else row.thread_title),
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
        for row in rows[:limit]
    ]
    return HitPage(hits=hits, more=len(rows) > limit)


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
    text = await _text(session, query_terms) if query_terms else None
    if text is None:
        return []
    d = documents.c
    key = d.community_id if kind == "community" else d.actor_id
    conditions: list[ColumnElement[bool]] = [d.kind == kind]
    if kind != "community":
        who = _known_person
        conditions.append(exists().where(who.c.id == d.actor_id, known(people, who.c.id, who.c.local)))
    rank = _ranking(text.dialect)
    statement = select(key, rank).where(_matching(text.dialect), *conditions).order_by(rank.desc())
    if text.dialect != "postgresql":
        statement = statement.select_from(fts_index.join(documents, d.id == fts_index.c.rowid))
    rows = (await session.execute(statement.limit(limit), text.parameters())).all()
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
