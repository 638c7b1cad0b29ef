from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from server.activitypub.keys import (
    InvalidKeyError,
    b58decode,
    b58encode,
    ed25519_public_to_multibase,
    generate_ed25519_key,
    generate_rsa_key,
    load_private_key_pem,
    load_public_key_pem,
    multibase_to_public_key,
    private_key_to_pem,
    public_key_to_multibase,
    public_key_to_pem,
)
from tests.activitypub.vectors import public_key

# Bitcoin's base58 test vectors (hex input, encoded output).
B58_VECTORS = [
    ("", ""),
    ("61", "2g"),
    ("626262", "a3gV"),
    ("636363", "aPEr"),
    ("73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"),
    ("00000000000000000000", "1111111111"),
    ("68656c6c6f20776f726c64", "StV1DL6CwTryKyV"),
]


@pytest.mark.parametrize(("hex_input", "encoded"), B58_VECTORS)
def test_base58_vectors(hex_input: str, encoded: str) -> None:
    assert b58encode(bytes.fromhex(hex_input)) == encoded
    assert b58decode(encoded) == bytes.fromhex(hex_input)


def test_ed25519_multikey_round_trips_and_has_the_multicodec_prefix() -> None:
    key = generate_ed25519_key().public_key()
    encoded = ed25519_public_to_multibase(key)
    assert encoded.startswith("z6Mk")  # 0xed01 followed by 32 bytes always reads z6Mk in base58btc
    decoded = multibase_to_public_key(encoded)
    assert isinstance(decoded, ed25519.Ed25519PublicKey)
    assert decoded.public_bytes_raw() == key.public_bytes_raw()


def test_rfc9421_ed25519_test_key_as_multikey() -> None:
    key = public_key("rfc9421_test_key_ed25519_public.pem")
    encoded = public_key_to_multibase(key)
    assert multibase_to_public_key(encoded) == key


def test_rsa_multikey_round_trips() -> None:
    key = generate_rsa_key().public_key()
    decoded = multibase_to_public_key(public_key_to_multibase(key))
    assert isinstance(decoded, rsa.RSAPublicKey)
    assert decoded.public_numbers() == key.public_numbers()


@pytest.mark.parametrize(
    "value", ["uAAAA", "z0OIl", "z" + b58encode(b"\x12\x00abc"), "z" + b58encode(b"\xed\x01abc")]
)
def test_bad_multibase_raises_invalid_key(value: str) -> None:
    with pytest.raises(InvalidKeyError):
        multibase_to_public_key(value)


def test_pem_round_trips() -> None:
    for private in (generate_rsa_key(), generate_ed25519_key()):
        restored = load_private_key_pem(private_key_to_pem(private))
        assert type(restored) is type(private)
        assert load_public_key_pem(public_key_to_pem(private.public_key())) == private.public_key()


def test_unreadable_pem_raises_invalid_key() -> None:
    with pytest.raises(InvalidKeyError):
        load_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
