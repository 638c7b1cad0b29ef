"""The instance itself: its key pairs, created once by `cercle init`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.models import InstanceKey


def _pem_pair(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def ensure_instance_keys(session: AsyncSession, now: datetime) -> list[str]:
    """Create the missing key pairs; returns the algorithms created (empty when all existed)."""
    existing = set((await session.execute(select(InstanceKey.algorithm))).scalars())
    created: list[str] = []
    makers: dict[str, Callable[[], rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey]] = {
        "rsa-2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
    }
    for algorithm, make in makers.items():
        if algorithm in existing:
            continue
        private, public = _pem_pair(make())
        session.add(InstanceKey(algorithm=algorithm, private_pem=private, public_pem=public, created_at=now))
        created.append(algorithm)
    await session.flush()
    return created
