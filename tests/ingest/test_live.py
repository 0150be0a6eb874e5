"""`tokensentry ingest` against the fake Salesforce: real HTTPS, real simple-salesforce.

The fake serves the demo fleet (3 orgs; acme-prod has Event Monitoring, so its logins also
arrive as Login ELF lines and LoginEvents) with small pages so every query spans several.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from ingest import db
from ingest.load import Loader
from sandbox.fakesf.fleet import demo_orgs, new_key_pair
from sandbox.fakesf.server import FakeSalesforce

from .live import ACME, FLEET, GLOBEX, INITECH, ingest, keys, write_config

__all__ = ["keys"]  # a fixture used by name
# A fault planted in one org is tested on that org alone (ingest's `orgs`): acme-prod's event
# log files are most of a whole-fleet ingest's time.


@pytest.fixture
def fake(keys) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(demo_orgs(FLEET, keys), page_size=200) as server:
        yield server


@pytest.fixture
def config_path(fake, keys, tmp_path) -> Path:
    return write_config(fake, keys, tmp_path)


# The tests that only read a fault-free ingest of the whole fleet share one (on one worker).
clean_fleet = pytest.mark.xdist_group("live-clean-fleet")


@pytest.fixture(scope="module")
def ingested(keys, tmp_path_factory) -> Iterator[tuple[FakeSalesforce, Path, Path]]:
    """The fake (still serving), its configuration and a store holding one clean ingest."""
    folder = tmp_path_factory.mktemp("live-clean-fleet")
    with FakeSalesforce(demo_orgs(FLEET, keys), page_size=200) as server:
        config = write_config(server, keys, folder)
        with db.connect(folder / "store.duckdb") as con:
            summary = ingest(con, config)
            assert not summary.failed, [(u.alias, u.source, u.error) for u in summary.units]
            con.execute("CHECKPOINT")
        yield server, config, folder / "store.duckdb"


@pytest.fixture
def clean_store(ingested) -> Iterator[duckdb.DuckDBPyConnection]:
    with db.connect(ingested[2], read_only=True) as con:
        yield con


def raw_counts(con) -> dict[tuple[str, str], int]:
    rows = con.execute(
        "SELECT org_id, source_id, count(*) FROM raw_records GROUP BY ALL"
    ).fetchall()
    counts = {(org, source): n for org, source, n in rows}
    for org, n in con.execute("SELECT _org_id, count(*) FROM raw_elf GROUP BY ALL").fetchall():
        counts[(org, "raw_elf")] = n
    return counts


def expected_elf_rows(fake_org) -> int:
    lines = set()
    for body in fake_org.log_files.values():
        lines.update(body.decode().splitlines()[1:])
    return len(lines)


def statuses(summary) -> dict[tuple[str, str], str]:
    return {(u.alias, u.source): u.status for u in summary.units}


@clean_fleet
def test_every_source_lands_exactly_the_fakes_rows(ingested, clean_store):
    fake = ingested[0]
    counts = raw_counts(clean_store)
    for org in fake.orgs:
        assert counts[(org.org_id, "soql:LoginHistory")] == len(org.objects["LoginHistory"])
        assert counts[(org.org_id, "soql:OauthToken")] == len(org.objects["OauthToken"])
        assert counts[(org.org_id, "rest:OAuthUsageToken")] == 1
    acme = fake.org(ACME)
    assert counts[(ACME, "soql:LoginEvent")] == len(acme.objects["LoginEvent"])
    assert counts[(ACME, "soql:EventLogFile")] == len(acme.objects["EventLogFile"])
    assert counts[(ACME, "raw_elf")] == expected_elf_rows(acme)  # the re-delivered hour once


@clean_fleet
def test_a_record_arrives_field_by_field(ingested, clean_store):
    store, record = clean_store, ingested[0].org(GLOBEX).objects["LoginHistory"][123]
    payload = json.loads(
        store.execute(
            "SELECT payload FROM raw_records WHERE record_id = ? AND source_id = 'soql:LoginHistory'",
            [record["Id"]],
        ).fetchone()[0]
    )
    for name in ("Id", "UserId", "LoginTime", "LoginType", "LoginSubType", "SourceIp", "Status",
                 "Application", "CountryIso"):  # fmt: skip
        assert payload[name] == record[name], name
    assert payload["LoginGeo"]["Latitude"] == record["LoginGeo"]["Latitude"]
    event = store.execute(
        """SELECT org_id, user_id, source_ip, status, app_name, latitude, city, login_history_id,
                  strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.000+0000')
           FROM events WHERE login_history_id = ?""",
        [record["Id"]],
    ).fetchone()
    assert event == (
        GLOBEX, record["UserId"], record["SourceIp"], record["Status"],
        record["Application"] if record["LoginType"] == "Remote Access 2.0" else None,
        record["LoginGeo"]["Latitude"], record["LoginGeo"]["City"], record["Id"], record["LoginTime"],
    )  # fmt: skip


@clean_fleet
def test_login_history_elf_and_login_event_make_one_event(ingested, clean_store):
    fake = ingested[0]
    merged, elf_rows, elf_only = clean_store.execute(
        """SELECT count(*) FILTER (WHERE list_contains(sources, 'elf:Login')
                                   AND list_contains(sources, 'soql:LoginHistory')
                                   AND list_contains(sources, 'soql:LoginEvent')),
                  count(*) FILTER (WHERE list_contains(sources, 'elf:Login')),
                  count(*) FILTER (WHERE sources = ['elf:Login'])
           FROM events WHERE org_id = ?""",
        [ACME],
    ).fetchone()
    assert merged == elf_rows == expected_elf_rows(fake.org(ACME)) and elf_only == 0


@clean_fleet
def test_run_twice_equals_once(ingested, tmp_path):
    _, config, once = ingested
    shutil.copyfile(once, tmp_path / "store.duckdb")
    with db.connect(tmp_path / "store.duckdb") as store:
        first = raw_counts(store)
        events = store.execute("SELECT count(*) FROM events").fetchone()[0]
        second = ingest(store, config, "run-2")
        assert not second.failed
        assert raw_counts(store) == first
        assert store.execute("SELECT count(*) FROM events").fetchone()[0] == events


class SimulatedCrash(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way up may swallow it."""


def test_crash_between_pages_resumes_without_gaps_or_duplicates(
    store, fake, config_path, monkeypatch
):
    real = Loader.load_records
    calls = {"n": 0}

    def crashing(self, records, *, origin):
        calls["n"] += 1
        if calls["n"] == 5:
            raise SimulatedCrash()
        return real(self, records, origin=origin)

    monkeypatch.setattr(Loader, "load_records", crashing)
    with pytest.raises(SimulatedCrash):
        ingest(store, config_path, "crashed")
    partial = sum(
        n for (_, source), n in raw_counts(store).items() if source == "soql:LoginHistory"
    )
    assert 0 < partial < sum(len(o.objects["LoginHistory"]) for o in fake.orgs)
    monkeypatch.setattr(Loader, "load_records", real)
    assert not ingest(store, config_path, "resumed").failed
    counts = raw_counts(store)
    for org in fake.orgs:
        assert counts[(org.org_id, "soql:LoginHistory")] == len(org.objects["LoginHistory"])
    duplicates = store.execute(
        "SELECT count(*) - count(DISTINCT (org_id, source_id, record_id)) FROM raw_records"
    ).fetchone()[0]
    assert duplicates == 0
    assert (
        store.execute("SELECT count(*) - count(DISTINCT event_id) FROM events").fetchone()[0] == 0
    )


def test_server_errors_are_retried(store, fake, config_path):
    fake.org(GLOBEX).faults.server_error_on = {2, 3, 5}
    summary = ingest(store, config_path, orgs=("globex-prod",))
    assert not summary.failed
    assert raw_counts(store)[(GLOBEX, "soql:LoginHistory")] == len(
        fake.org(GLOBEX).objects["LoginHistory"]
    )


def test_an_expired_session_is_renewed_once(store, fake, config_path):
    fake.org(INITECH).faults.expire_session_on = {3}
    before = len(fake.issued_tokens)
    summary = ingest(store, config_path, orgs=("initech-prod",))
    assert not summary.failed
    assert len(fake.issued_tokens) == before + 2  # the first token and one renewal
    assert raw_counts(store)[(INITECH, "soql:LoginHistory")] == len(
        fake.org(INITECH).objects["LoginHistory"]
    )


def test_request_limit_exceeded_stops_that_org_only(store, fake, config_path):
    fake.org(GLOBEX).faults.limit_exceeded_on = {3}
    summary = ingest(store, config_path, orgs=("globex-prod", "initech-prod"))
    states = statuses(summary)
    assert states[("globex-prod", "login_history")] == "limit_exceeded"
    assert states[("globex-prod", "oauth_token")] == "skipped"
    assert all(s == "ok" for (alias, _), s in states.items() if alias != "globex-prod")
    assert summary.failed
    error = next(u.error for u in summary.units if u.status == "limit_exceeded")
    assert "REQUEST_LIMIT_EXCEEDED" in error and "resumes" in error


def test_the_api_reserve_is_left_untouched(store, fake, config_path):
    acme = fake.org(ACME)
    acme.daily_api_max, acme.api_used = 1000, 950
    summary = ingest(store, config_path, orgs=("acme-prod",))
    assert {s for (alias, _), s in statuses(summary).items() if alias == "acme-prod"} == {"skipped"}
    error = next(u.error for u in summary.units if u.alias == "acme-prod")
    assert "of 1000 daily API requests left" in error and "reserve" in error


def test_slow_responses_still_complete(store, fake, config_path):
    fake.org(INITECH).faults.slow_seconds = 0.05
    assert not ingest(store, config_path, orgs=("initech-prod",)).failed


def test_a_truncated_log_file_is_not_loaded(store, fake, config_path):
    fake.org(ACME).faults.truncate_log_files = True
    summary = ingest(store, config_path, orgs=("acme-prod",))
    states = statuses(summary)
    assert states[("acme-prod", "event_log_file")] == "failed"
    assert "truncated" in next(u.error for u in summary.units if u.source == "event_log_file")
    assert store.execute("SELECT count(*) FROM raw_elf").fetchone()[0] == 0
    assert states[("acme-prod", "login_history")] == "ok"
    fake.org(ACME).faults.truncate_log_files = False
    assert not ingest(store, config_path, "next-night", orgs=("acme-prod",)).failed
    assert raw_counts(store)[(ACME, "raw_elf")] == expected_elf_rows(fake.org(ACME))


def test_an_org_without_event_monitoring_is_not_available_not_failed(store, fake, config_path):
    text = config_path.read_text().replace(
        'sources = ["login_history", "oauth_token", "user"]',
        'sources = ["login_history", "oauth_token", "user", "login_event"]', 1,
    )  # fmt: skip
    config_path.write_text(text)  # the first org without Event Monitoring asks for LoginEvent
    summary = ingest(store, config_path, orgs=("globex-prod", "initech-prod"))
    unavailable = [u for u in summary.units if u.status == "not_available"]
    assert len(unavailable) == 1 and unavailable[0].source == "login_event"
    assert "INVALID_TYPE" in unavailable[0].error
    assert not summary.failed


def test_bad_credentials_and_a_locked_org_fail_alone(store, fake, config_path, tmp_path):
    other = tmp_path / "other.pem"
    other.write_bytes(new_key_pair().private_pem)
    text = config_path.read_text()
    acme_block_end = text.index("[orgs.globex-prod]")
    config_path.write_text(
        text[:acme_block_end].replace(str(tmp_path / "ingest.pem"), str(other))
        + text[acme_block_end:]
    )
    fake.org(GLOBEX).faults.locked = True
    summary = ingest(store, config_path)
    by_org = {}
    for unit in summary.units:
        by_org.setdefault(unit.alias, set()).add(unit.status)
    assert by_org == {"acme-prod": {"failed"}, "globex-prod": {"failed"}, "initech-prod": {"ok"}}
    errors = {u.alias: u.error for u in summary.units if u.error}
    assert "invalid_grant (invalid assertion)" in errors["acme-prod"]
    assert "inactive_org" in errors["globex-prod"]
    runs = store.execute("SELECT unit_id, status FROM runs WHERE stage = 'ingest'").fetchall()
    assert ("initech-prod/login_history", "ok") in runs and (
        "acme-prod/login_history",
        "failed",
    ) in runs


def test_ca_bundle_holds_when_requests_ca_bundle_is_set(store, fake, config_path, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert not ingest(store, config_path, orgs=("globex-prod",)).failed


def test_client_credentials_and_access_token_methods(
    store, fake, config_path, monkeypatch, tmp_path
):
    from sandbox.fakesf.fleet import INGEST_CONSUMER_KEY

    fake.org(GLOBEX).apps[0].consumer_secret = "s3cr3t-client"
    monkeypatch.setenv("GLOBEX_SECRET", "s3cr3t-client")
    monkeypatch.setenv("INITECH_TOKEN", fake.session_for(INITECH))
    lines = []
    for line in config_path.read_text().splitlines():
        in_globex = "globex" in "".join(lines[-7:])
        if in_globex and line.startswith("login_url ="):
            continue  # client credentials: the token endpoint defaults to the My Domain host
        if in_globex and line.startswith("instance_url ="):
            line = f'instance_url = "{fake.my_domain_url}"'
        if line.startswith("auth =") and lines and "globex" in "".join(lines[-7:]):
            line = f'auth = {{ method = "client_credentials", consumer_key = "{INGEST_CONSUMER_KEY}", consumer_secret = {{ env = "GLOBEX_SECRET" }} }}'
        elif line.startswith("auth =") and "initech" in "".join(lines[-7:]):
            line = 'auth = { method = "access_token", token = { env = "INITECH_TOKEN" } }'
        lines.append(line)
    config_path.write_text("\n".join(lines) + "\n")
    summary = ingest(store, config_path, orgs=("globex-prod", "initech-prod"))
    assert not summary.failed, [(u.alias, u.error) for u in summary.units if u.error]


def test_secrets_never_reach_the_store_or_the_logs(
    fake, config_path, keys, tmp_path, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    db_path = tmp_path / "store.duckdb"
    result = CliRunner().invoke(
        cli, ["--db", str(db_path), "--config", str(config_path), "ingest", "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    with db.connect(db_path) as con:
        con.execute("CHECKPOINT")
    key_body = b"".join(keys.private_pem.splitlines()[1:-1])
    secrets = [key_body[i : i + 40] for i in range(0, len(key_body) - 40, 200)]
    secrets += [t.encode() for t in fake.issued_tokens] + [
        t.split("!")[1].encode() for t in fake.issued_tokens
    ]
    texts = [db_path.read_bytes(), (result.stdout + result.stderr).encode(), caplog.text.encode(),
             "".join(capfd.readouterr()).encode()]  # fmt: skip
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_cli_ingest_reports_json_and_exit_codes(fake, config_path, tmp_path):
    db_path = str(tmp_path / "cli.duckdb")
    base = ["--db", db_path, "--config", str(config_path), "ingest"]
    result = CliRunner().invoke(cli, [*base, "--format", "json", "--org", "initech-prod"])
    assert result.exit_code == 0
    units = json.loads(result.stdout)["units"]
    assert {(u["org"], u["source"], u["status"]) for u in units} == {
        ("initech-prod", "login_history", "ok"), ("initech-prod", "oauth_token", "ok"),
        ("initech-prod", "user", "ok"),
    }  # fmt: skip
    assert units[0]["rows_read"] > 0
    fake.org(INITECH).faults.locked = True
    failed = CliRunner().invoke(cli, [*base, "--org", "initech-prod"])
    assert failed.exit_code == 1 and "inactive_org" in failed.stderr
    unknown = CliRunner().invoke(cli, [*base, "--org", "nope"])
    assert unknown.exit_code == 2 and "--org nope: not in the configuration" in unknown.stderr
