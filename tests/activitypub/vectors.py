"""Published test vectors and keys, loaded from ``data/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from server.activitypub.keys import PrivateKey, PublicKey, load_private_key_pem, load_public_key_pem

DATA = Path(__file__).parent / "data"


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text("utf-8"))


def public_key(name: str) -> PublicKey:
    return load_public_key_pem((DATA / name).read_bytes())


def private_key(name: str) -> PrivateKey:
    return load_private_key_pem((DATA / name).read_bytes())
