"""Following a person on another instance from the web pages: the people directory's form, the
waiting state on their profile, the answer, and unfollowing."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.storage.social import Follow
from tests.federation.conftest import Instance
from tests.federation.test_communities import settle, token


async def follows(instance: Instance) -> list[Follow]:
    async with instance.ctx.sessions() as session:
        return list((await session.execute(select(Follow))).scalars())


def csrf(page: str) -> dict[str, str]:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return {"csrf_token": found.group(1)}


async def test_a_person_elsewhere_is_followed_from_the_web_pages(paris: Instance, munich: Instance) -> None:
    await token(paris, "pierre")
    alice = await token(munich, "alice")

    directory = await munich.http.get("/people", headers=alice)
    assert 'action="/people/follow"' in directory.text
    assert directory.text.count('action="/people/follow"') == 1
    assert re.search(r"<title>People[^<]*</title>", directory.text), "the form stays out of the title"

    asked = await munich.http.post(
        "/people/follow", data={"handle": "@pierre@paris.example", **csrf(directory.text)}, headers=alice
    )
    assert asked.status_code == 303 and asked.headers["location"] == "/people/pierre@paris.example"
    waiting = await munich.http.get("/people/pierre@paris.example", headers=alice)
    assert waiting.status_code == 200
    assert "Waiting for paris.example to confirm." in waiting.text
    assert [f.state for f in await follows(munich)] == ["pending"]

    await settle(paris, munich)
    accepted = await munich.http.get("/people/pierre@paris.example", headers=alice)
    assert "Waiting for" not in accepted.text and ">Unfollow</button>" in accepted.text
    assert [f.state for f in await follows(paris)] == ["accepted"]

    left = await munich.http.post(
        "/people/pierre@paris.example/follow", data={"on": "0", **csrf(accepted.text)}, headers=alice
    )
    assert left.status_code == 303
    await settle(paris, munich)
    assert await follows(munich) == [] and await follows(paris) == []


async def test_a_handle_that_leads_nowhere_is_explained_and_kept(paris: Instance, munich: Instance) -> None:
    alice = await token(munich, "alice")
    form = csrf((await munich.http.get("/people", headers=alice)).text)
    for handle, says in (
        ("nobody@paris.example", "no one named &#39;nobody&#39; on paris.example"),
        ("pierre", "write the person&#39;s handle as name@their-instance"),
    ):
        answer = await munich.http.post("/people/follow", data={"handle": handle, **form}, headers=alice)
        assert answer.status_code == 422
        assert says in answer.text
        assert f'value="{handle}"' in answer.text and 'aria-invalid="true"' in answer.text
    assert await follows(munich) == []
