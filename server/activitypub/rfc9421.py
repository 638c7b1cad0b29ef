"""RFC 9421 HTTP Message Signatures for requests.

Parsing reads ``Signature-Input`` and ``Signature`` (RFC 8941 dictionaries) and picks one label: the one
asked for, else the first that carries a ``keyid``. The signature base is rebuilt line by line from the
covered components and ends with ``"@signature-params"``, whose value is the canonical serialisation of
the inner list (what the RFC's Appendix B prints). Supported derived components: ``@method``,
``@target-uri``, ``@authority``, ``@scheme``, ``@path``, ``@query``, ``@request-target`` and
``@query-param;name=...``; any lowercase header field by name. Component parameters ``sf``, ``bs``, ``key``,
``req`` and ``tr`` are refused as unsupported rather than silently ignored.

The ``alg`` parameter, when present, decides the algorithm; otherwise the key does (Ed25519), and an RSA
key is tried as ``rsa-v1_5-sha256`` then ``rsa-pss-sha512``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote_plus, urlsplit

from server.activitypub import algorithms
from server.activitypub.keys import PrivateKey, PublicKey
from server.activitypub.results import Check, Failure, failed
from server.activitypub.structured import (
    BareItem,
    InnerList,
    Item,
    StructuredFieldError,
    parse_dictionary,
    serialize_inner_list,
    serialize_item,
    serialize_params,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Rfc9421Signature:
    label: str
    components: tuple[Item, ...]
    params: dict[str, BareItem]
    signature: bytes

    @property
    def signature_params(self) -> str:
        return serialize_inner_list(InnerList(self.components, self.params))

    @property
    def covered(self) -> tuple[str, ...]:
        return tuple(str(c.value) for c in self.components)

    def _param_str(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if isinstance(value, str) else None

    def _param_int(self, name: str) -> int | None:
        value = self.params.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def key_id(self) -> str | None:
        return self._param_str("keyid")

    @property
    def alg(self) -> str | None:
        return self._param_str("alg")

    @property
    def created(self) -> int | None:
        return self._param_int("created")

    @property
    def expires(self) -> int | None:
        return self._param_int("expires")


def parse_signature(headers: Mapping[str, str], label: str | None = None) -> Rfc9421Signature | Failure:
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_input, raw_signature = lowered.get("signature-input"), lowered.get("signature")
    if raw_input is None or raw_signature is None:
        return Failure("missing Signature-Input or Signature header")
    try:
        inputs = parse_dictionary(raw_input)
        signatures = parse_dictionary(raw_signature)
    except StructuredFieldError as exc:
        return Failure(f"malformed signature header: {exc}")
    if label is None:
        label = next(
            (name for name, v in inputs.items() if isinstance(v, InnerList) and "keyid" in v.params), None
        )
        if label is None:
            return Failure("no signature with a keyid")
    entry, value = inputs.get(label), signatures.get(label)
    if not isinstance(entry, InnerList):
        return Failure(f"no signature input labelled {label}")
    if not isinstance(value, Item) or not isinstance(value.value, bytes):
        return Failure(f"no signature value labelled {label}")
    names = set()
    for component in entry.items:
        if not isinstance(component.value, str):
            return Failure("component identifier is not a string")
        key = serialize_item(component)
        if key in names:
            return Failure(f"component {key} listed twice")
        names.add(key)
    return Rfc9421Signature(label, entry.items, dict(entry.params), value.value)


def _authority(scheme: str, host: str, port: int | None) -> str:
    host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    return host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"


def _query_param(query: str, name: str) -> str | Failure:
    found = [
        value
        for key, _, value in (pair.partition("=") for pair in query.split("&") if pair)
        if quote(unquote_plus(key), safe="") == name or unquote_plus(key) == name
    ]
    if len(found) != 1:
        return Failure(f"query parameter {name} absent or repeated")
    return quote(unquote_plus(found[0]), safe="")


def component_value(component: Item, method: str, url: str, headers: Mapping[str, str]) -> str | Failure:
    """One component's value; ``headers`` must have lowercase names."""
    name = str(component.value)
    params = component.params
    if not name.startswith("@"):
        if params:
            return Failure(f"unsupported component parameter on {name}")
        if name != name.lower():
            return Failure(f"component {name} is not lowercase")
        value = headers.get(name)
        if value is None:
            return Failure(f"covered header {name} missing")
        return value.strip()
    if params and not (name == "@query-param" and set(params) == {"name"}):
        return Failure(f"unsupported component parameter on {name}")
    if name == "@method":
        return method
    if name == "@target-uri":
        return url.split("#", 1)[0]
    parts = urlsplit(url)
    if name == "@authority":
        return _authority(parts.scheme, parts.hostname or "", parts.port)
    if name == "@scheme":
        return parts.scheme.lower()
    path = parts.path or "/"
    if name == "@path":
        return path
    if name == "@query":
        return "?" + parts.query
    if name == "@request-target":
        return path + ("?" + parts.query if parts.query else "")
    if name == "@query-param":
        return _query_param(parts.query, str(params["name"]))
    return Failure(f"unsupported derived component {name}")


def signature_base(
    components: Sequence[Item], signature_params: str, method: str, url: str, headers: Mapping[str, str]
) -> str | Failure:
    names = [serialize_item(component) for component in components]
    return _signature_base(components, names, signature_params, method, url, headers)


def _signature_base(
    components: Sequence[Item],
    names: Sequence[str],
    signature_params: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
) -> str | Failure:
    """`signature_base`, the components' serialisations (`names`) given."""
    lowered = {k.lower(): v for k, v in headers.items()}
    lines = []
    for component, name in zip(components, names, strict=True):
        value = component_value(component, method, url, lowered)
        if isinstance(value, Failure):
            return value
        if "\n" in value or "\r" in value:
            return Failure(f"component {name} holds a line break")
        lines.append(f"{name}: {value}")
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines)


@lru_cache(maxsize=64)
def _identifiers(components: tuple[str, ...]) -> tuple[tuple[Item, ...], tuple[str, ...]]:
    """The components to sign, as items and serialised: the same few lists, signed over and over."""
    items = tuple(Item(name) for name in components)
    return items, tuple(serialize_item(item) for item in items)


def verify(sig: Rfc9421Signature, method: str, url: str, headers: Mapping[str, str], key: PublicKey) -> Check:
    base = signature_base(sig.components, sig.signature_params, method, url, headers)
    if isinstance(base, Failure):
        return failed(base.reason)
    message = base.encode("utf-8")
    if sig.alg is None:
        return algorithms.verify_any(key, message, sig.signature)
    return algorithms.verify_bytes(sig.alg, key, message, sig.signature)


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    key: PrivateKey,
    key_id: str,
    components: Sequence[str],
    created: int,
    label: str = "sig1",
    expires: int | None = None,
    nonce: str | None = None,
    alg: str | None = None,
    include_alg: bool = False,
    tag: str | None = None,
) -> dict[str, str]:
    """Return the ``Signature-Input`` and ``Signature`` headers for the request."""
    algorithm = alg or algorithms.default_algorithm(key)
    params: dict[str, BareItem] = {"created": created}
    if expires is not None:
        params["expires"] = expires
    params["keyid"] = key_id
    if nonce is not None:
        params["nonce"] = nonce
    if include_alg:
        params["alg"] = algorithm
    if tag is not None:
        params["tag"] = tag
    items, names = _identifiers(tuple(components))
    inner = "(" + " ".join(names) + ")" + serialize_params(params)  # serialize_inner_list's, names known
    base = _signature_base(items, names, inner, method, url, headers)
    if isinstance(base, Failure):
        raise ValueError(f"cannot sign: {base.reason}")
    signature = algorithms.sign_bytes(algorithm, key, base.encode("utf-8"))
    return {
        "Signature-Input": f"{label}={inner}",
        "Signature": f"{label}=:{base64.b64encode(signature).decode('ascii')}:",
    }
