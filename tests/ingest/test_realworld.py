"""Every public sample in ../shared/data/realworld/salesforce imports without a traceback."""

from __future__ import annotations

import pytest

from ingest import db
from ingest.importer import expand

from .helpers import counts, run_import

ORG = "00D5j000000VI3n"  # the org of Elastic's samples; SOQL exports carry none
MUST_LOAD_CLEANLY = (
    "elastic-integrations",
    "elastic-beats",
    "rapid7-insightconnect",
    "newrelic-salesforce-exporter",
    "azure-sentinel",
)
NOT_RECORDS = {
    # error bodies and token responses: Salesforce wrote them, but they hold no records
    "error-query-timeout.http500.json",
    "get_token.json",
    "invalid_client_id.json",
    "invalid_grant.json",
    "unsupported_grant_type.json",
    "sample_limits.json",
}


@pytest.fixture(scope="module")
def imported(request):
    from ..conftest import REALWORLD

    if not REALWORLD.exists():  # a module-scoped fixture cannot use the function-scoped one
        pytest.skip(f"real-world samples not found at {REALWORLD} (set TOKENSENTRY_SHARED)")
    con = db.memory()
    summary = run_import(con, REALWORLD / "salesforce", org=ORG)
    request.addfinalizer(con.close)
    return con, summary


def test_every_sample_imports_or_is_quarantined_with_a_reason(imported, realworld):
    store, summary = imported
    assert len(summary.files) == len(expand([realworld / "salesforce"])) > 70
    for outcome in summary.files:
        assert outcome.status in ("ok", "partial"), (outcome.path, outcome.error)
        assert outcome.error is None
    reasons = store.execute("SELECT origin, line, reason FROM quarantine").fetchall()
    for _origin, line, reason in reasons:
        assert line is not None and reason
    quarantined = {origin.rsplit("/", 1)[-1] for origin, _, _ in reasons}
    for outcome in summary.files:
        if any(part in MUST_LOAD_CLEANLY for part in outcome.path.parts):
            if outcome.path.name in NOT_RECORDS:
                assert outcome.result.rows_quarantined == 1
            else:
                assert outcome.result.rows_quarantined == 0, outcome.path
                assert outcome.path.name not in quarantined


def test_samples_become_the_events_they_describe(imported):
    store, _ = imported
    # Elastic's LoginEvent: a Remote Access 2.0 success from India with Salesforce's geo
    row = store.execute(
        """SELECT login_type, grant_type, country_iso, latitude FROM events
           WHERE source_ip = '103.108.207.58' AND event_type = 'login' LIMIT 1"""
    ).fetchone()
    assert row == ("Remote Access 2.0", "password", "IN", 21.9974)
    # AppOmni's ELF login: the token endpoint with a missing consumer key, Salesforce-hidden IP
    row = store.execute(
        "SELECT is_success, status, source_ip FROM events WHERE status LIKE '%Consumer Key%' "
        "AND 'elf:Login' = ANY(sources)"
    ).fetchone()
    assert row == (False, "Missing Consumer Key Parameter", "198.51.100.1")
    # Rapid7's LoginHistory pages: the second page repeats a record of the first
    assert (
        store.execute(
            "SELECT count(*) FROM raw_records WHERE source_id = 'soql:LoginHistory'"
        ).fetchone()[0]
        == 2
    )
    # Azure Sentinel's lower-case ELF rows keep every field, under Salesforce's names
    assert (
        store.execute(
            "SELECT count(*) FROM raw_elf WHERE _org_id = '00B30000000nLF7EAM'"
        ).fetchone()[0]
        == 17
    )


def test_importing_the_samples_again_changes_nothing(imported, realworld):
    store, _ = imported
    before = counts(store)
    again = run_import(store, realworld / "salesforce", org=ORG, run_id="again")
    assert counts(store) == before
    assert again.totals.rows_new == 0 and again.totals.events_new == 0
