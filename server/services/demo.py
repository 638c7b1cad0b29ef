"""Demo data, so a newcomer lands on a living network: people, communities of every kind, threads.

Everything goes through the same services as real use (permissions, rendering, notifications).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from server.context import Context
from server.services import accounts, charter, communities, follows, posts
from server.storage.accounts import count_users
from server.storage.models import User

PEOPLE = [
    ("camille", "Camille Martin", True),
    ("lea", "Léa Dubois", False),
    ("karim", "Karim Benali", False),
    ("sophie", "Sophie Laurent", False),
    ("jonas", "Jonas Weber", False),
    ("maria", "Maria Rossi", False),
    ("tom", "Tom Becker", False),
    ("ines", "Inès Moreau", False),
]

COMMUNITIES = [
    (
        "rh-france",
        "RH France",
        "functional",
        "open",
        "camille",
        ["rh", "paie"],
        "Questions and news from the HR team: payroll, leave, training.",
    ),
    (
        "projet-atlas",
        "Projet Atlas",
        "project",
        "closed",
        "lea",
        ["erp", "migration"],
        "The ERP migration project team: plan, decisions, meeting notes.",
    ),
    (
        "lean",
        "Lean & amélioration continue",
        "practice",
        "open",
        "karim",
        ["lean", "kaizen"],
        "Community of practice: share kaizen stories, tools and site visits.",
    ),
    (
        "data-science",
        "Data science",
        "expertise",
        "open",
        "sophie",
        ["python", "ml", "data"],
        "Ask the data people: models, dashboards, data quality.",
    ),
    (
        "velo",
        "Vélo au travail",
        "interest",
        "open",
        "tom",
        ["vélo", "mobilité"],
        "Cycling to work: routes, repairs, the yearly challenge.",
    ),
    (
        "sante",
        "Secteur Santé",
        "sector",
        "open",
        "maria",
        ["santé", "clients"],
        "Everything about our healthcare customers and their market.",
    ),
    (
        "comite-direction",
        "Comité de direction",
        "functional",
        "secret",
        "camille",
        ["direction"],
        "Board preparation. Invitation only.",
    ),
]

THREADS = [
    (
        "lea",
        ["projet-atlas"],
        "Cut-over weekend",
        "We move the **finance** module on the 14th. Checklist:\n\n"
        "1. Freeze entries on Friday 18:00\n2. Export balances\n3. Smoke tests on Saturday\n\n"
        "@karim can you check the plant interfaces? #atlas",
        [
            ("karim", "Yes, I will test the Lyon plant on Saturday morning."),
            ("camille", "Payroll is not impacted, confirmed with the provider."),
        ],
    ),
    (
        "karim",
        ["lean", "rh-france"],
        "5S in the Lyon warehouse",
        "Before/after of our 5S week: picking time down by 18%. Happy to host a visit. #lean #kaizen",
        [("maria", "Impressive! Can we visit in March?"), ("tom", "Do you have the standard work sheets?")],
    ),
    (
        "sophie",
        ["data-science"],
        "Who knows dbt?",
        "We are starting with **dbt** for the sales models. "
        "Anyone with experience on incremental models? #data",
        [("jonas", "We use it in Munich, happy to help.")],
    ),
    (
        "tom",
        ["velo"],
        "Bike challenge 2026",
        "The yearly challenge starts on Monday. Team up by site! #vélo",
        [],
    ),
    (
        "maria",
        ["sante"],
        "Tender: regional hospital group",
        "A 3-year tender for lab equipment is open. Who worked with this customer before?",
        [("ines", "I did, in 2023. Let us talk.")],
    ),
    (
        "camille",
        ["rh-france"],
        "New training catalogue",
        "The 2027 catalogue is online. Registrations open until 15 December.",
        [],
    ),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str


async def seed(ctx: Context) -> DemoLogin | None:
    """Fill an empty instance; returns the administrator's login, or None if it already had people."""
    async with ctx.transaction() as session:
        if await count_users(session):
            return None
    password = secrets.token_urlsafe(12)
    users: dict[str, User] = {}
    start = ctx.clock.now() - timedelta(days=6)
    async with ctx.transaction() as session:
        for username, name, admin in PEOPLE:
            users[username] = await accounts.create_user(
                session,
                ctx.settings,
                start,
                username=username,
                email=f"{username}@example.com",
                password=password,
                display_name=name,
                is_admin=admin,
            )
            await charter.accept_charter(session, start, ctx.charter, users[username], "en")
        for slug, name, kind, visibility, owner, tags, description in COMMUNITIES:
            await communities.create_community(
                session,
                ctx.settings,
                start,
                users[owner],
                slug=slug,
                name=name,
                kind=kind,
                visibility=visibility,
                description=description,
                tags=tags,
            )
        memberships = {
            "rh-france": ["lea", "karim", "sophie", "ines", "maria"],
            "lean": ["camille", "maria", "tom", "jonas"],
            "data-science": ["lea", "jonas", "karim"],
            "velo": ["lea", "ines", "karim", "jonas"],
            "sante": ["ines", "sophie"],
        }
        for slug, names in memberships.items():
            for name in names:
                await communities.join(session, ctx, start, users[name], slug)
        for name in ("karim", "camille"):
            await communities.join(session, ctx, start, users[name], "projet-atlas")
            await communities.decide_request(
                session, ctx, start, users["lea"], "projet-atlas", name, approve=True
            )
        await communities.join(
            session, ctx, start, users["tom"], "projet-atlas"
        )  # left pending, for the animator
        await communities.invite(session, start, users["camille"], "comite-direction", "maria")
        await follows.follow(session, start, users["lea"], "karim")
        when = start
        for author, slugs, title, body, comments in THREADS:
            when += timedelta(hours=17)
            post = await posts.create_post(
                session, ctx, when, users[author], title=title, body=body, communities=slugs
            )
            for index, (commenter, text) in enumerate(comments):
                await posts.create_comment(
                    session,
                    ctx,
                    when + timedelta(minutes=20 * (index + 1)),
                    users[commenter],
                    parent_id=post.id,
                    body=text,
                )
            owner = next(c[4] for c in COMMUNITIES if c[0] == slugs[0])
            fan = owner if owner != author else (comments[0][0] if comments else None)
            if fan is not None:
                await posts.react(session, ctx, when, users[fan], post.id, "like")
        poll = await posts.create_post(
            session,
            ctx,
            when + timedelta(hours=2),
            users["tom"],
            title="Bike shed location",
            body="Where should the new bike shed go?",
            communities=["velo"],
            poll_options=["North gate", "Car park"],
        )
        await posts.vote(session, when + timedelta(hours=3), users["lea"], poll.id, 0)
    return DemoLogin(username="camille", password=password)
