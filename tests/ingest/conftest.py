"""Fixtures of the refresh helper's tests (test_refresh_helper, test_refresh_processes,
test_unknown_egress): a fake Salesforce with one org and an authorized helper. A module with
a `fake` of its own (test_live) overrides it. `fp_key` is not autouse: the refresh modules ask
for it with `pytestmark`."""

from __future__ import annotations

import pytest

from sandbox.fakesf.server import FakeSalesforce

from .refresh_support import FP_KEY, authorize, fake_org, helper


@pytest.fixture
def fp_key(monkeypatch):
    monkeypatch.setenv("TOKENSENTRY_FP_KEY", FP_KEY)


@pytest.fixture
def fake():
    with FakeSalesforce([fake_org()]) as server:
        yield server


@pytest.fixture
def setup(fake, tmp_path):
    """An authorized helper, its folder and its log."""
    log = tmp_path / "tokens.jsonl"
    h = helper(fake.url, str(fake.ca_path), tmp_path / "store", log, worker="unit",
               backoff_s=0.01)  # fmt: skip
    authorize(h, str(fake.ca_path))
    return h, tmp_path / "store", log
