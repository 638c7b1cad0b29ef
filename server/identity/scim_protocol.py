"""The parts of SCIM 2.0 (RFC 7643, RFC 7644) that are pure protocol: errors, list filters, PATCH.

Written by hand, on purpose: directory clients (Entra ID, Okta, Keycloak, JumpCloud) use a small,
known subset — list filters `attribute eq "value"`, and PATCH operations `add`, `replace` and
`remove` on plain attributes, sub-attributes, extension attributes (`urn:…:User:department`) and
value-filtered multi-valued attributes (`emails[type eq "work"].value`, `members[value eq "7"]`).
A general SCIM object model would still have to be mapped onto our tables; this module applies
PATCH to the plain JSON representation, and the resource code then treats the result like a PUT.
Attribute names are case-insensitive, as the RFC says; operation names too (Entra sends `Replace`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EXTENSIONS = (ENTERPRISE_SCHEMA,)

_FILTER = re.compile(r'^\s*([A-Za-z][\w.:-]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_VALUE_PATH = re.compile(r"^([A-Za-z][\w]*)\[(.+)\](?:\.([A-Za-z]\w*))?$")


@dataclass
class ScimError(Exception):
    """A SCIM error answer (RFC 7644 §3.12)."""

    status: int
    detail: str
    scim_type: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def parse_filter(text: str | None, allowed: dict[str, str]) -> dict[str, str]:
    """`userName eq "alice"` as {"userName": "alice"}; `allowed` maps lower-case names to ours."""
    if not text:
        return {}
    match = _FILTER.match(text)
    if match is None or match.group(1).lower() not in allowed:
        names = ", ".join(sorted(set(allowed.values())))
        raise ScimError(400, f'filters supported: `attribute eq "value"` on {names}', "invalidFilter")
    return {allowed[match.group(1).lower()]: re.sub(r"\\(.)", r"\1", match.group(2))}


def _key(resource: dict[str, Any], name: str) -> str:
    """The key of `resource` that is `name`, compared without case (or `name` when absent)."""
    lowered = name.lower()
    return next((key for key in resource if key.lower() == lowered), name)


def _split_urn(path: str) -> tuple[str | None, str]:
    for urn in EXTENSIONS:
        if path.lower().startswith(urn.lower()):
            rest = path[len(urn) :].lstrip(":")
            return urn, rest
    return None, path


def _container(resource: dict[str, Any], urn: str | None, create: bool) -> dict[str, Any] | None:
    if urn is None:
        return resource
    key = _key(resource, urn)
    if key not in resource and create:
        resource[key] = {}
    found = resource.get(key)
    return found if isinstance(found, dict) else None


def _matches(item: Any, condition: str) -> bool:
    match = _FILTER.match(condition)
    if match is None:
        raise ScimError(400, f"unsupported value filter: {condition}", "invalidPath")
    if not isinstance(item, dict):
        return False
    value = item.get(_key(item, match.group(1)))
    return str(value).lower() == match.group(2).lower()


def _condition_item(condition: str) -> dict[str, Any]:
    match = _FILTER.match(condition)
    return {match.group(1): match.group(2)} if match else {}


def _set(resource: dict[str, Any], path: str, value: Any, op: str) -> None:
    urn, rest = _split_urn(path)
    target = _container(resource, urn, create=True)
    assert target is not None
    if not rest:
        if not isinstance(value, dict):
            raise ScimError(400, f"a value for {path} must be an object", "invalidValue")
        for name, item in value.items():
            _set(target, name, item, op)
        return
    if valued := _VALUE_PATH.match(rest):
        attribute, condition, sub = valued.groups()
        items = target.setdefault(_key(target, attribute), [])
        chosen = [item for item in items if _matches(item, condition)]
        if not chosen:
            chosen = [_condition_item(condition)]
            items.append(chosen[0])
        for item in chosen:
            if sub:
                item[_key(item, sub)] = value
            elif isinstance(value, dict):
                item.update(value)
        return
    head, _, tail = rest.partition(".")
    key = _key(target, head)
    if tail:
        inner = target.setdefault(key, {})
        if not isinstance(inner, dict):
            raise ScimError(400, f"{head} has no sub-attributes", "invalidPath")
        inner[_key(inner, tail)] = value
    elif op == "add" and isinstance(target.get(key), list):
        additions = value if isinstance(value, list) else [value]
        target[key] = target[key] + [item for item in additions if item not in target[key]]
    elif op == "add" and isinstance(target.get(key), dict) and isinstance(value, dict):
        target[key] = {**target[key], **value}
    else:
        target[key] = value


def _remove(resource: dict[str, Any], path: str, value: Any) -> None:
    urn, rest = _split_urn(path)
    target = _container(resource, urn, create=False)
    if target is None or not rest:
        return
    if valued := _VALUE_PATH.match(rest):
        attribute, condition, sub = valued.groups()
        key = _key(target, attribute)
        items = target.get(key) or []
        if sub:
            for item in items:
                if _matches(item, condition):
                    item.pop(_key(item, sub), None)
        else:
            target[key] = [item for item in items if not _matches(item, condition)]
        return
    head, _, tail = rest.partition(".")
    key = _key(target, head)
    if tail and isinstance(target.get(key), dict):
        target[key].pop(_key(target[key], tail), None)
    elif isinstance(target.get(key), list) and isinstance(value, list):
        # Entra and others remove some members with {"path": "members", "value": [{"value": "7"}]}
        gone = {str(item.get("value")) for item in value if isinstance(item, dict)}
        target[key] = [item for item in target[key] if str(item.get("value")) not in gone]
    else:
        target.pop(key, None)


def apply_patch(resource: dict[str, Any], body: Any) -> dict[str, Any]:
    """A copy of `resource` with the PatchOp `body` applied (RFC 7644 §3.5.2)."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        raise ScimError(400, "a PATCH body is a PatchOp with a list of Operations", "invalidSyntax")
    patched = copy.deepcopy(resource)
    for operation in body["Operations"]:
        if not isinstance(operation, dict):
            raise ScimError(400, "each operation is an object", "invalidSyntax")
        op = str(operation.get(_key(operation, "op"), "")).lower()
        path = operation.get(_key(operation, "path"))
        value = operation.get(_key(operation, "value"))
        if path is not None and not isinstance(path, str):
            raise ScimError(400, "path must be a string", "invalidPath")
        if op in {"add", "replace"}:
            _set(patched, path or "", value, op)
        elif op == "remove":
            if not path:
                raise ScimError(400, "remove needs a path", "noTarget")
            _remove(patched, path, value)
        else:
            raise ScimError(400, f"unknown operation {op!r} (add, replace or remove)", "invalidSyntax")
    return patched


def as_bool(value: Any, default: bool = True) -> bool:
    """SCIM booleans, including the strings some clients send ("False", "true")."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in {"false", "0", "no", ""}
    return bool(value)


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
