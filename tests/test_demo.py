"""`tokensentry demo --no-serve` end to end: every planted story of data/demo_stories.toml raises
its alerts, nothing unplanned reaches medium, and the same reference date gives the same ids."""

from __future__ import annotations

import email
import itertools
import json
import subprocess
from datetime import date, timedelta
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import cli
from dashboard.demo import pipeline, stories
from dashboard.queries import health
from ingest import db
from sandbox import demo as demo_world
from sandbox.demo import cast
from tests.conftest import DEMO_AS_OF

REPO = Path(__file__).resolve().parent.parent
AS_OF = date.fromisoformat(DEMO_AS_OF)
ORG = {org.alias: org.org_id for org in cast.ORGS}


@pytest.fixture(scope="module")
def demo_store(demo_build):
    return demo_build


def alerts_of(store: Path) -> list[dict]:
    result = CliRunner().invoke(cli, ["--db", str(store), "alerts", "--format", "json"])
    return json.loads(result.stdout)


def test_every_story_raises_its_alerts_and_nothing_unplanned_reaches_medium(demo_store):
    _, store, output = demo_store
    alerts = alerts_of(store)
    report = stories.check(stories.load(), alerts)
    assert report.missing == [], "a planted story raised no such alert"
    assert report.noisy == [], "a benign story was not quiet"
    assert [a["summary"] for a in report.unplanned] == [], "an alert nobody planted"
    assert "all 17 in demo_stories.toml raised what they plant" in " ".join(output.split())


def test_the_drift_wave_reads_as_one_campaign(demo_store):
    """The ELF-only org's theft is found through the inferred app, and cross_org links the
    three orgs of that night, not the other stories of the month."""
    alerts = alerts_of(demo_store[1])
    hooli = [
        a for a in alerts if a["org_id"] == ORG["hooli"] and a["detector"] == "off_allowlist_ip"
    ]
    assert len(hooli) == 1 and hooli[0]["app"] == "Acme Sync"
    assert "inferred" in hooli[0]["summary"]
    (wave,) = [a for a in alerts if a["detector"] == "cross_org"]
    text = json.dumps(wave)
    assert all(ORG[alias] in text for alias in ("northwind", "globex", "hooli"))
    assert all(ORG[alias] not in text for alias in ("initech", "stark", "wayne", "umbrella"))


def test_every_story_the_world_plants_is_documented_and_vice_versa():
    world = demo_world.build(AS_OF)
    planted = {r.story for r in [*world.logins, *world.partner_calls] if r.story}
    documented = {story["id"] for story in stories.load()}
    # Benign cases made of routine traffic alone (two regions, phones) plant no marked record.
    assert planted <= documented
    assert documented - planted == {"multi-region-egress", "phones-and-vendors",
                                     "token-source-stopped"}  # fmt: skip


def test_the_world_is_a_pure_function_of_the_reference_date():
    first, again = demo_world.build(AS_OF), demo_world.build(AS_OF)
    assert [c.line() for c in first.partner_calls] == [c.line() for c in again.partner_calls]
    later = demo_world.build(AS_OF + timedelta(days=1))
    assert later.end - first.end == timedelta(days=1)
    assert first.end - first.start == timedelta(days=30)
    assert pipeline.default_as_of(date(2026, 5, 13)) == date(2026, 5, 12)


def test_integrations_refresh_every_15_to_60_minutes_from_two_regions():
    world = demo_world.build(AS_OF)
    org = cast.BY_ALIAS["wayne"]
    refreshes = sorted(
        login.at
        for login in world.of(org)
        if login.user_id == org.integration_user and login.story is None and login.succeeded
        and login.sub_type == "OAuth Refresh Token"
    )  # fmt: skip
    gaps = [(b - a).total_seconds() / 60 for a, b in itertools.pairwise(refreshes)]
    assert min(gaps) >= 15 and max(gaps) <= 61 and len(refreshes) > 30 * 24
    egress = {login.place.ip for login in world.of(org) if login.user_id == org.integration_user}
    assert {"3.208.10.5", "34.243.12.5", "2600:1f18:1000::5"} <= egress
    rotations = [c for c in world.partner_calls if c.org is org and c.grant_type == "refresh_token"]
    assert all(c.token_fp != c.new_token_fp for c in rotations if c.outcome == "success")


def test_each_org_arrives_the_way_the_brief_says(demo_store):
    with db.connect(demo_store[1], read_only=True) as con:
        rows = con.execute(
            "SELECT org_id, list(DISTINCT s ORDER BY s) FROM "
            "(SELECT org_id, unnest(sources) AS s FROM events) GROUP BY org_id"
        ).fetchall()
    sources = dict(rows)
    for alias in ("northwind", "globex", "initech", "stark", "wayne", "acme-partner"):
        assert "soql:LoginHistory" in sources[ORG[alias]], alias  # over HTTPS, the fake org
    for alias in ("umbrella", "hooli"):  # exported event log files, no API
        assert "soql:LoginHistory" not in sources[ORG[alias]]
        assert {"elf:Login", "elf:Logout", "elf:ApiTotalUsage", "elf:BulkApi2"} <= set(
            sources[ORG[alias]]
        )
    assert "soql:LoginEvent" in sources[ORG["umbrella"]]
    assert {"elf:Login", "soql:LoginEvent"} <= set(sources[ORG["northwind"]])


def test_a_stopped_token_export_is_a_stale_source_not_an_expired_token(demo_store):
    _, store, _ = demo_store
    with db.connect(store, read_only=True) as con:
        fresh = health.pipeline_health(con, now=demo_world.build(AS_OF).end)
    umbrella = fresh[fresh["org_id"] == ORG["umbrella"]]
    snapshots = umbrella[umbrella["source"] == "oauth_token"]
    assert snapshots["state"].tolist() == ["stale"]
    assert not any(
        a["detector"] == "idle_token" and a["org_id"] == ORG["umbrella"] and a["severity"] != "info"
        for a in alerts_of(store)
    )


def test_nothing_in_the_store_carries_the_wall_clock(demo_store):
    # Idleness is measured at the newest ingested_at: a wall-clock ingest made the near-limit
    # token expire on later days although --as-of pinned the world.
    _, store, _ = demo_store
    end = demo_world.build(AS_OF).end
    with db.connect(store, read_only=True) as con:
        newest_ingest, newest_update = con.execute(
            "SELECT max(ingested_at), max(updated_at) FROM events"
        ).fetchone()
    assert newest_ingest is not None and newest_ingest <= end.replace(tzinfo=None)
    assert newest_update <= end.replace(tzinfo=None)


def test_the_demo_writes_the_digest_it_would_send(demo_store):
    folder, _, _ = demo_store
    (path,) = (folder / "outbox").glob("*.eml")
    assert path.name == f"digest-{AS_OF}.eml" and path.stat().st_mode & 0o777 == 0o600
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    sent_on = str(AS_OF + timedelta(days=1))  # the morning after the reference day
    assert "critical" in message["Subject"] and sent_on in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "208.68.36.90" in text and "http://localhost:8501/alert?id=" in text


def test_running_the_demo_again_changes_no_alert(demo_copy):
    folder, store = demo_copy  # a copy of the built demo: the others read the built one
    before = {a["alert_id"]: a["event_count"] for a in alerts_of(store)}
    result = CliRunner().invoke(
        cli, ["--db", str(store), "demo", "--no-serve", "--dir", str(folder), "--as-of", str(AS_OF)]
    )
    assert result.exit_code == 0, result.stderr
    assert {a["alert_id"]: a["event_count"] for a in alerts_of(store)} == before


def test_demo_refuses_a_store_holding_other_orgs(tmp_path):
    store = tmp_path / "real.duckdb"
    partner = tmp_path / "p.jsonl"
    partner.write_text(
        json.dumps(
            {
                "ts": "2026-11-01T09:30:00Z",
                "org_id": "00D000000000001",
                "app": "X",
                "user_id": None,
                "grant_type": "refresh_token",
                "token_fp": None,
                "new_token_fp": None,
                "egress_ip": "192.0.2.1",
                "worker": "w",
                "outcome": "success",
                "error_description": None,
                "pkce": None,
            }
        )
        + "\n"
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(store), "import", str(partner)]).exit_code == 0
    result = runner.invoke(
        cli, ["--db", str(store), "demo", "--no-serve", "--dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 2 and "holds events of other orgs" in " ".join(result.stderr.split())


def test_make_demo_on_the_same_date_gives_the_same_alert_ids(tmp_path, demo_store):
    """The README's own command into a fresh store: the same alerts, id for id."""
    args = f"--no-serve --dir {tmp_path} --db {tmp_path / 'make.duckdb'} --as-of {AS_OF}"
    result = subprocess.run(
        ["make", "--no-print-directory", "demo", f"ARGS={args}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fresh = {a["alert_id"]: a["severity"] for a in alerts_of(tmp_path / "make.duckdb")}
    assert fresh == {a["alert_id"]: a["severity"] for a in alerts_of(demo_store[1])}
    assert (tmp_path / "outbox" / f"digest-{AS_OF}.eml").exists()
