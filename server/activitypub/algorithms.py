"""The three signature algorithms both signature schemes share, named as in the RFC 9421 registry.

``ed25519``, ``rsa-pss-sha512`` (salt 64 bytes, MGF1-SHA-512) and ``rsa-v1_5-sha256``. A key of the wrong
type for the algorithm is a failed check, not an exception.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from server.activitypub.keys import PrivateKey, PublicKey
from server.activitypub.results import PASSED, Check, failed

ED25519 = "ed25519"
RSA_PSS_SHA512 = "rsa-pss-sha512"
RSA_V1_5_SHA256 = "rsa-v1_5-sha256"
SUPPORTED = frozenset({ED25519, RSA_PSS_SHA512, RSA_V1_5_SHA256})


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)


def default_algorithm(key: PublicKey | PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return ED25519
    return RSA_V1_5_SHA256


def verify_bytes(algorithm: str, key: PublicKey, message: bytes, signature: bytes) -> Check:
    try:
        if algorithm == ED25519:
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return failed("key type does not match algorithm ed25519")
            key.verify(signature, message)
        elif algorithm in (RSA_PSS_SHA512, RSA_V1_5_SHA256):
            if not isinstance(key, rsa.RSAPublicKey):
                return failed(f"key type does not match algorithm {algorithm}")
            if algorithm == RSA_PSS_SHA512:
                key.verify(signature, message, _pss(), hashes.SHA512())
            else:
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            return failed(f"unsupported algorithm {algorithm}")
    except InvalidSignature:
        return failed("invalid signature")
    return PASSED


def verify_any(key: PublicKey, message: bytes, signature: bytes) -> Check:
    """Verify when the algorithm is not named: Ed25519 by key type; RSA as v1.5-SHA-256, then PSS-SHA-512."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return verify_bytes(ED25519, key, message, signature)
    result = verify_bytes(RSA_V1_5_SHA256, key, message, signature)
    return result if result.ok else verify_bytes(RSA_PSS_SHA512, key, message, signature)


def sign_bytes(algorithm: str, key: PrivateKey, message: bytes) -> bytes:
    if algorithm == ED25519 and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    if isinstance(key, rsa.RSAPrivateKey):
        if algorithm == RSA_V1_5_SHA256:
            return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        if algorithm == RSA_PSS_SHA512:
            return key.sign(message, _pss(), hashes.SHA512())
    raise ValueError(f"cannot sign {algorithm} with {type(key).__name__}")
