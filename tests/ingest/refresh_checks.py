"""What the refresh helper's tests check of every text they read: no token, no secret."""

from __future__ import annotations

from sandbox.fakesf.server import FakeSalesforce

from .refresh_support import CONSUMER_SECRET

MEDIUM_OR_ABOVE = {"medium", "high", "critical"}


def secrets_of(fake: FakeSalesforce) -> list[str]:
    refresh = [e.presented for e in fake.oauth.exchanges if e.presented]
    return [*fake.issued_tokens, *refresh, CONSUMER_SECRET]


def assert_no_secret(text: str, fake: FakeSalesforce) -> None:
    for secret in secrets_of(fake):
        assert secret not in text
