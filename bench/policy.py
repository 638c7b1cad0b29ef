"""What the charter costs per inbound activity, beside what verifying it costs, in the same run.

    python bench/policy.py [-n 2000]

For a realistic note (about 600 characters with a phone number, an e-mail address and hashtags), times
`evaluate_ingress` and `evaluate_publish` under each shipped charter, and, as the baseline, the checks
every accepted activity goes through anyway: JSON parsing with limits, signature parsing and Ed25519
verification with the Content-Digest check (`server.activitypub`). The inbox benchmark gives the whole
per-activity cost (1 / accepted rate); this one says what part of it the charter would take.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.activitypub import keys, rfc9421  # noqa: E402
from server.activitypub.digest import content_digest_header  # noqa: E402
from server.activitypub.limits import parse_json_body  # noqa: E402
from server.activitypub.signatures import parse_request_signature, verify_parsed  # noqa: E402
from server.policy import ContentFacts, IngressFacts, evaluate_ingress, evaluate_publish, load_charter  # noqa: E402

TEXT = (
    "Before/after of our 5S week in the Lyon warehouse: picking time down by 18%. Happy to host a visit, "
    "call me on +33 6 12 34 56 78 or mail karim@example.com. #lean #kaizen "
) * 3


def per_call(fn: object, n: int) -> float:
    return timeit.timeit(fn, number=n) / n  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000)
    n = parser.parse_args().n

    key = keys.generate_ed25519_key()
    body = json.dumps(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "https://munich.example/a/1",
            "type": "Create",
            "actor": "https://munich.example/users/alice",
            "object": {"id": "https://munich.example/n/1", "type": "Note", "content": TEXT},
        }
    ).encode()
    url = "https://paris.example/inbox"
    headers = {"content-type": "application/activity+json", "content-digest": content_digest_header(body)}
    now = datetime.now(UTC)
    headers.update(
        rfc9421.sign(
            method="POST",
            url=url,
            headers=headers,
            key=key,
            key_id="https://munich.example/users/alice#ed",
            components=["@method", "@target-uri", "content-digest"],
            created=int(now.timestamp()),
        )
    )

    def baseline() -> None:
        parse_json_body(body, max_bytes=1 << 20, max_depth=32)
        parsed = parse_request_signature("POST", url, headers)
        assert not hasattr(parsed, "reason") or getattr(parsed, "valid", True)
        result = verify_parsed(parsed, key.public_key(), body=body, now=now, max_skew=timedelta(minutes=5))  # type: ignore[arg-type]
        assert result.valid, result.reason

    base = per_call(baseline, n)
    print(f"baseline: parse + verify (Ed25519, Content-Digest) {base * 1e6:7.0f} µs per activity")
    for charter_id in ("group", "fr", "de", "us", "cn"):
        charter = load_charter(ROOT / "charter", charter_id)
        facts = IngressFacts(
            content=ContentFacts(text=TEXT, kind="post"),
            origin_jurisdiction="DE",
            origin_regions=charter.regions_of("DE"),
        )
        ingress = per_call(lambda c=charter, f=facts: evaluate_ingress(c, f), n)
        publish = per_call(lambda c=charter: evaluate_publish(c, ContentFacts(text=TEXT, kind="post")), n)
        print(
            f"charter {charter_id:5}: ingress {ingress * 1e6:6.0f} µs ({ingress / base:4.1f}× baseline), "
            f"publish {publish * 1e6:6.0f} µs"
        )


if __name__ == "__main__":
    main()
