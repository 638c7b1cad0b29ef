"""SCIM list filters and PATCH operations, as the directory clients send them."""

from __future__ import annotations

from typing import Any

import pytest

from server.identity.directory import username_base
from server.identity.oidc import admin_from_claims, map_claims
from server.identity.scim_protocol import ENTERPRISE_SCHEMA, ScimError, apply_patch, as_bool, parse_filter
from tests.conftest import make_settings

USER: dict[str, Any] = {
    "userName": "a@corp.example",
    "title": "Buyer",
    "emails": [{"value": "a@corp.example", "type": "work", "primary": True}],
    ENTERPRISE_SCHEMA: {"department": "Purchasing"},
    "members": [{"value": "1"}, {"value": "2"}],
}


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"Operations": list(operations)}


def test_filters_are_attribute_eq_value() -> None:
    allowed = {"username": "userName", "externalid": "externalId"}
    assert parse_filter('userName eq "a@corp.example"', allowed) == {"userName": "a@corp.example"}
    assert parse_filter('EXTERNALID Eq "x\\"y"', allowed) == {"externalId": 'x"y'}
    assert parse_filter(None, allowed) == {}
    for wrong in ('title eq "x"', 'userName co "a"', 'userName eq "a" and title eq "b"'):
        with pytest.raises(ScimError) as refused:
            parse_filter(wrong, allowed)
        assert refused.value.scim_type == "invalidFilter"


def test_patch_paths_the_directories_use() -> None:
    patched = apply_patch(
        USER,
        ops(
            {"op": "Replace", "path": "TITLE", "value": "Head"},
            {"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Procurement"},
            {"op": "add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": {"value": "9"}},
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "b@corp.example"},
            {"op": "add", "path": 'addresses[type eq "work"].locality', "value": "Lyon"},
            {"op": "remove", "path": 'members[value eq "1"]'},
            {"op": "add", "path": "members", "value": [{"value": "3"}, {"value": "2"}]},
            {"op": "replace", "value": {"active": False, f"{ENTERPRISE_SCHEMA}:employeeNumber": "7"}},
        ),
    )
    assert patched["title"] == "Head" and patched["active"] is False
    assert patched[ENTERPRISE_SCHEMA] == {
        "department": "Procurement",
        "manager": {"value": "9"},
        "employeeNumber": "7",
    }
    assert patched["emails"][0]["value"] == "b@corp.example"
    assert patched["addresses"] == [{"type": "work", "locality": "Lyon"}]
    assert patched["members"] == [{"value": "2"}, {"value": "3"}]
    assert USER["title"] == "Buyer"  # the original is left alone
    removed = apply_patch(patched, ops({"op": "remove", "path": "members", "value": [{"value": "2"}]}))
    assert removed["members"] == [{"value": "3"}]
    with pytest.raises(ScimError):
        apply_patch(USER, ops({"op": "move", "path": "title"}))
    with pytest.raises(ScimError):
        apply_patch(USER, {"Operations": "replace everything"})


def test_scim_booleans_include_strings() -> None:
    assert as_bool("False") is False and as_bool("true") is True and as_bool(None) is True


def test_claims_map_to_fields_and_role(tmp_path: Any) -> None:
    settings = make_settings(
        "sqlite+aiosqlite:///x.db",
        tmp_path,
        oidc_discovery_url="https://login.corp.example/.well-known/openid-configuration",
        oidc_client_id="cercle",
        oidc_client_secret="s" * 20,
        oidc_claims={"site": "address.locality", "job_title": ""},
        oidc_admin_claim="roles",
        oidc_admin_value="admin",
    )
    mapped = map_claims(
        settings,
        {
            "sub": "1",
            "email": "z@corp.example",
            "address": {"locality": "Lyon"},
            "job_title": "x",
            "roles": ["admin"],
        },
    )
    assert mapped.profile == {"site": "Lyon"} and mapped.is_admin is True
    assert admin_from_claims(settings, {"roles": "admin"}) is True
    assert admin_from_claims(settings, {"roles": ["staff"]}) is False
    assert admin_from_claims(settings, {}) is False


def test_user_names_from_directory_names() -> None:
    assert username_base("Zoé.Martin@corp.example") == "zoe.martin"
    assert username_base("Jean Pierre O'Neil") == "jean.pierre.o.neil"
    assert username_base("李") == "user"
