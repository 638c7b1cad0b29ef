"""The baseline: a bare Starlette endpoint returning a JSON page of the same size as a feed page."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

ITEM = {
    "id": 1,
    "uri": "http://localhost/posts/1",
    "kind": "post",
    "author": {"username": "ada", "display_name": "Ada", "domain": "localhost", "local": True},
    "title": "A title",
    "content_html": "<p>" + "word " * 60 + "</p>",
    "communities": [{"slug": "c1", "name": "C1", "pinned": False}],
    "reactions": {"like": 2},
}


async def page(request: Request) -> Response:
    return JSONResponse({"items": [ITEM] * 50, "next_cursor": None})


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def create() -> Starlette:
    return Starlette(routes=[Route("/api/v1/feed/home", page), Route("/healthz", healthz)])
