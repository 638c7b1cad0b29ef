"""Discovery: WebFinger (RFC 7033), NodeInfo 2.1 against its published schema, host-meta."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.federation.conftest import Instance

SCHEMA = json.loads((Path(__file__).parent / "data" / "nodeinfo-2.1.schema.json").read_text())


def schema_errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """The JSON Schema draft-04 keywords the NodeInfo schema uses. Written here because the project's
    dependencies are not this test's to change, and these eight keywords are a few lines."""
    errors: list[str] = []
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int}
    expected = schema.get("type")
    if expected is not None:
        ok = isinstance(value, kinds[expected]) and not (expected == "integer" and isinstance(value, bool))
        if not ok:
            return [f"{where}: not {expected}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in enum")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: below minimum")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: too few items")
        for i, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), f"{where}[{i}]")
    if isinstance(value, dict):
        errors += [f"{where}: missing {name}" for name in schema.get("required", []) if name not in value]
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(item, properties[name], f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected {name}")
    return errors


def test_the_validator_catches_what_the_schema_forbids() -> None:
    assert schema_errors({"version": "2.0"}, SCHEMA)
    assert schema_errors({"software": {"name": "Cercle Server", "version": "1"}}, SCHEMA["properties"]) == []
    bad = {"name": "Cercle Server", "version": "1"}
    assert schema_errors(bad, SCHEMA["properties"]["software"]) != []


async def test_webfinger_finds_a_person(paris: Instance) -> None:
    bob = await paris.add_user("bob", "Bob")
    response = await paris.http.get("/.well-known/webfinger", params={"resource": "acct:bob@paris.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["content-type"].startswith("application/jrd+json")
    jrd = response.json()
    assert jrd["subject"] == "acct:bob@paris.example"
    links = {link["rel"]: link for link in jrd["links"]}
    assert links["self"] == {"rel": "self", "type": "application/activity+json", "href": bob.uri}
    assert links["http://webfinger.net/rel/profile-page"]["type"] == "text/html"


async def test_webfinger_finds_a_community_and_by_url(paris: Instance) -> None:
    await paris.add_community("jazz", "closed")
    by_acct = await paris.http.get("/.well-known/webfinger", params={"resource": "acct:jazz@paris.example"})
    assert by_acct.json()["links"][0]["href"] == "https://paris.example/c/jazz"
    by_url = await paris.http.get(
        "/.well-known/webfinger", params={"resource": "https://paris.example/c/jazz"}
    )
    assert by_url.status_code == 200 and by_url.json()["subject"] == "acct:jazz@paris.example"


@pytest.mark.parametrize(
    ("resource", "status"),
    [
        (None, 400),
        ("", 400),
        ("acct:bob", 400),
        ("acct:@paris.example", 400),
        ("acct:bo/b@paris.example", 400),
        ("https://paris.example:notaport/users/bob", 400),
        ("acct:nobody@paris.example", 404),
        ("acct:bob@munich.example", 404),
        ("https://paris.example/users/nobody", 404),
        ("https://paris.example/elsewhere", 404),
        ("acct:secret@paris.example", 404),
    ],
)
async def test_webfinger_refusals(paris: Instance, resource: str | None, status: int) -> None:
    await paris.add_user("bob")
    await paris.add_community("secret", "secret")
    params = {"resource": resource} if resource is not None else {}
    response = await paris.http.get("/.well-known/webfinger", params=params)
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == "*"


async def test_nodeinfo_validates_and_names_the_charter(paris: Instance) -> None:
    await paris.add_user("bob")
    index = await paris.http.get("/.well-known/nodeinfo")
    [link] = index.json()["links"]
    assert link["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.1"
    assert link["href"] == "https://paris.example/nodeinfo/2.1"
    response = await paris.http.get("/nodeinfo/2.1")
    assert response.status_code == 200
    assert 'profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"' in response.headers["content-type"]
    document = response.json()
    assert schema_errors(document, SCHEMA) == []
    assert document["usage"]["users"]["total"] == 1
    metadata = document["metadata"]
    assert metadata["charter"] == {"id": paris.ctx.charter.id, "version": paris.ctx.charter.version}
    assert metadata["jurisdiction"] == paris.ctx.charter.jurisdiction
    assert metadata["federation"]["mode"] == "allowlist"


async def test_host_meta_points_at_webfinger(paris: Instance) -> None:
    response = await paris.http.get("/.well-known/host-meta")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xrd+xml")
    assert 'template="https://paris.example/.well-known/webfinger?resource={uri}"' in response.text
