"""Key pairs for actors: RSA-2048 (cavage signatures, ``publicKeyPem``) and Ed25519 (RFC 9421, FEP-521a).

Multikey (FEP-521a, W3C Controlled Identifiers) encodes a public key as multibase base58btc (prefix ``z``)
over ``varint(multicodec) || key bytes``: ``0xed`` (Ed25519, 32 raw bytes) and ``0x1205`` (RSA, DER
PKCS#1 RSAPublicKey).

Base58 is written here by hand: it is twenty lines, and the project's dependencies are not ours to
change from this package (a tiny ``base58`` wheel would add a supply-chain entry for no gain).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

_ED25519_CODEC = b"\xed\x01"
_RSA_CODEC = b"\x85\x24"  # varint(0x1205)
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


class InvalidKeyError(ValueError):
    """A key could not be decoded (bad PEM, bad multibase, unsupported key type)."""


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generate_ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def private_key_to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key_to_pem(key: PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_private_key_pem(pem: str | bytes) -> PrivateKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError(f"unreadable private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise InvalidKeyError(f"unsupported private key type {type(key).__name__}")
    return key


def load_public_key_pem(pem: str | bytes) -> PublicKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError(f"unreadable public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise InvalidKeyError(f"unsupported public key type {type(key).__name__}")
    return key


def b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, rem = divmod(n, 58)
        out.append(_B58_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    n = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise InvalidKeyError(f"invalid base58 character {char!r}")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def ed25519_public_to_multibase(key: ed25519.Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + b58encode(_ED25519_CODEC + raw)


def rsa_public_to_multibase(key: rsa.RSAPublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return "z" + b58encode(_RSA_CODEC + der)


def public_key_to_multibase(key: PublicKey) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ed25519_public_to_multibase(key)
    return rsa_public_to_multibase(key)


def multibase_to_public_key(value: str) -> PublicKey:
    """Decode a FEP-521a ``publicKeyMultibase``; raises :class:`InvalidKeyError` when it is not one."""
    if not value.startswith("z"):
        raise InvalidKeyError("publicKeyMultibase must be base58btc (prefix 'z')")
    data = b58decode(value[1:])
    if data.startswith(_ED25519_CODEC):
        raw = data[len(_ED25519_CODEC) :]
        if len(raw) != 32:
            raise InvalidKeyError("Ed25519 multikey must hold 32 bytes")
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    if data.startswith(_RSA_CODEC):
        try:
            key = serialization.load_der_public_key(data[len(_RSA_CODEC) :])
        except ValueError as exc:
            raise InvalidKeyError(f"bad RSA multikey: {exc}") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidKeyError("RSA multicodec does not hold an RSA key")
        return key
    raise InvalidKeyError("unsupported multicodec in publicKeyMultibase")
