"""People by name on the demo store, and the demo as the default.

The demo (built once per run, `demo_build`) ingests six orgs over HTTPS from the fake Salesforce,
whose User object names every user, and imports two orgs' event log files, whose USER_NAME
column does. So every alert with a user carries its username, and search finds a user's alerts
by username, name, address, network, org alias or name, or app. Then, from the demo's folder as
the current directory and no flags, the everyday commands read the demo's store and its
import-only configuration.
"""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import queries
from dashboard.cli import cli
from dashboard.demo import defaults
from ingest import db
from sandbox.demo import cast
from tests.builds import private_copy

ORG = {org.alias: org for org in cast.ORGS}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, list(args), env={"TOKENSENTRY_DB": None, "TOKENSENTRY_CONFIG": None}
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def demo_home(demo_build, tmp_path, monkeypatch) -> Path:
    """A private copy of the built demo folder as the current directory, no TOKENSENTRY_*."""
    home = private_copy(demo_build[0], tmp_path / "home")
    monkeypatch.chdir(home)
    monkeypatch.delenv("TOKENSENTRY_DB", raising=False)
    monkeypatch.delenv("TOKENSENTRY_CONFIG", raising=False)
    return home


def test_every_demo_alert_with_a_user_names_them(demo_build):
    _, store, _ = demo_build
    with db.connect(store, read_only=True) as con:
        records = queries.alert_records(queries.alerts(con))
        from_user_object = con.execute(
            "SELECT count(*) FROM user_directory WHERE from_user_object"
        ).fetchone()[0]
    with_user = [a for a in records if a["user_id"]]
    assert with_user and all(a["username"] for a in with_user), [
        (a["alert_id"], a["user_id"]) for a in with_user if not a["username"]
    ]
    assert from_user_object > 0  # the API orgs' users came from the User object
    by_alias = {a["username"].split("@")[1].split(".")[0] for a in with_user}
    assert {"hooli", "initech", "wayne"} <= by_alias  # ELF USER_NAME (hooli) and User (others)
    jump = next(a for a in records if a["detector"] == "impossible_travel")
    org = next(o for o in cast.ORGS if o.org_id == jump["org_id"])
    person = next(p for p in org.people if p.user_id == jump["user_id"])
    assert jump["username"] == org.username(person.alias)
    assert jump["user_full_name"] == " ".join(w.capitalize() for w in person.alias.split("."))


def test_alerts_cli_shows_usernames_in_json_csv_and_plain(demo_build):
    _, store, _ = demo_build
    code, out, _ = invoke("--db", str(store), "alerts", "--format", "json")
    assert code == 0
    named = [a for a in json.loads(out) if a["username"]]
    assert named
    code, out, _ = invoke("--db", str(store), "alerts", "--format", "csv")
    header, *rows = out.splitlines()
    assert header.split(",")[-1] == "username"
    assert any(named[0]["username"] in row for row in rows)
    code, out, _ = invoke("--db", str(store), "alerts")  # not a terminal: tab-separated lines
    assert out.splitlines()[0].split("\t")[-1] == "username"
    assert any(line.endswith("\t" + named[0]["username"]) for line in out.splitlines())
    code, out, _ = invoke("--db", str(store), "alerts", "--incidents", "--format", "json")
    assert any(i["username"] for i in json.loads(out))


def _found(store: Path, needle: str, orgs: tuple = ()) -> set[str]:
    with db.connect(store, read_only=True) as con:
        return set(queries.search_alerts(con, needle, orgs=orgs)["alert_id"])


def _traveller(store: Path) -> dict:
    with db.connect(store, read_only=True) as con:
        records = queries.alert_records(queries.alerts(con, detectors=["impossible_travel"]))
    return records[0]


def test_search_finds_a_users_alerts_by_username_name_and_id(demo_build):
    _, store, _ = demo_build
    jump = _traveller(store)
    with db.connect(store, read_only=True) as con:
        theirs = set(
            r["alert_id"] for r in queries.alert_records(queries.alerts(con))
            if r["user_id"] == jump["user_id"]
        )  # fmt: skip
    assert jump["alert_id"] in theirs
    assert theirs <= _found(store, jump["username"])
    assert theirs <= _found(store, jump["username"].upper())  # case does not matter
    assert theirs <= _found(store, jump["user_full_name"])
    assert theirs <= _found(store, jump["user_id"][:15])  # the 15-character id too
    with db.connect(store, read_only=True) as con:
        events = queries.search_events(con, jump["user_full_name"])
    assert set(events["user_id"]) == {jump["user_id"]}
    assert set(events["username"]) == {jump["username"]}


def test_search_by_address_and_network_v4_and_v6(demo_build):
    _, store, _ = demo_build
    with db.connect(store, read_only=True) as con:
        records = queries.alert_records(queries.alerts(con))
    vps = {a["alert_id"] for a in records if "208.68.36.90" in a["ips"]}
    assert vps and vps == _found(store, "208.68.36.90")
    assert vps <= _found(store, "208.68.36.0/24")
    assert _found(store, "208.68.36.0/24") == {
        a["alert_id"] for a in records if any(ip.startswith("208.68.36.") for ip in a["ips"])
    }
    assert not _found(store, "198.51.100.0/24")  # a network nothing came from
    with db.connect(store, read_only=True) as con:
        assert queries.search_kind("2600:1f18:1000::/48") == "network"
        events = queries.search_events(con, "2600:1f18:1000::/48")
        summary = queries.search_needle(con, "2600:1f18::/32")
    assert not events.empty and all(ip.startswith("2600:1f18:1000:") for ip in events["source_ip"])
    assert summary["kind"] == "network" and summary["addresses"] >= 1


def test_search_by_org_alias_org_name_and_app(demo_copy):
    _, store = demo_copy
    wayne = ORG["wayne"].org_id
    org_name = "Wayne Enterprises, Inc."
    with db.connect(store) as con:  # the Organization row the `organization` source stores
        records = queries.alert_records(queries.alerts(con))
        con.execute(
            "INSERT INTO raw_records VALUES (?, 'soql:Organization', ?, now(), ?, 'test', "
            "'run-org', now())",
            [wayne, f"{wayne}|America/New_York",
             json.dumps({"attributes": {"type": "Organization"}, "Id": wayne, "Name": org_name,
                         "TimeZoneSidKey": "America/New_York"})],
        )  # fmt: skip
    of_wayne = {a["alert_id"] for a in records if a["org_id"] == wayne}
    assert of_wayne
    aliases = tuple((o.alias, o.org_id) for o in cast.ORGS)
    assert of_wayne <= _found(store, "wayne", aliases)
    assert of_wayne <= _found(store, "wayne enterprises")  # its Salesforce name, any case
    assert of_wayne <= _found(store, wayne)
    zenith = {a["alert_id"] for a in records if (a["app"] or "").startswith("Zenith")}
    assert zenith <= _found(store, "zenith cpq")


def test_search_text_is_never_sql_or_a_pattern(demo_build):
    _, store, _ = demo_build
    assert not _found(store, "%")
    assert not _found(store, "' OR 1=1 --")
    assert not _found(store, "10.0.0.0/33")  # not a network: text, matching nothing


def test_plain_commands_read_the_demo_without_flags(demo_home):
    assert (demo_home / "data" / "tokensentry.toml").read_text().startswith(defaults.MARKER)
    code, out, err = invoke("controls", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert {r["app"] for r in rows} >= {"Acme Sync"}
    assert {ORG["wayne"].org_id, ORG["hooli"].org_id} <= {r["org_id"] for r in rows}
    assert any(r["control"] == "allowlist" and r["verdict"] == "pass" for r in rows)
    code, out, err = invoke("health", "--format", "json")
    assert code in (0, 1), err  # 1: the demo's stopped token export is stale, by design
    assert "umbrella" in out and "northwind" in out
    code, _, err = invoke("ingest")
    assert code == 0, err
    assert "nothing to pull" in err
    code, _, err = invoke("digest", "--dry-run", "digest.eml")
    assert code == 0, err
    message = email.message_from_bytes(Path("digest.eml").read_bytes(), policy=policy.default)
    assert "secops@acme-sync.example" in message["To"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "User: " in body and "[.]example" in body  # usernames, defanged
    code, _, err = invoke("digest")
    assert code == 2 and "--dry-run" in err  # no mail server in the demo: said, not attempted
    code, _, err = invoke("nightly")
    assert code == 0, err
    assert "nothing to pull" in err and "enabled = false" in err


def test_a_configuration_the_user_wrote_is_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    demo_config = tmp_path / "data" / "demo" / "tokensentry.toml"
    demo_config.parent.mkdir(parents=True)
    demo_config.write_text(defaults.lasting_config(8501))
    mine = tmp_path / "data" / "tokensentry.toml"
    mine.write_text('[orgs.prod]\norg_id = "00D5g000004XyZaEAK"\n')
    said = defaults.adopt(demo_config, defaults.DEFAULT_DB, defaults.DEFAULT_CONFIG)
    assert mine.read_text() == '[orgs.prod]\norg_id = "00D5g000004XyZaEAK"\n'
    assert "written by you" in said and f"--config {demo_config}" in said
    mine.write_text(defaults.lasting_config(9999))  # the demo's own, from an earlier run
    said = defaults.adopt(demo_config, defaults.DEFAULT_DB, defaults.DEFAULT_CONFIG)
    assert mine.read_text() == demo_config.read_text() and "without flags" in said
    mine.unlink()
    said = defaults.adopt(demo_config, Path("elsewhere.duckdb"), defaults.DEFAULT_CONFIG)
    assert not mine.exists() and "--db elsewhere.duckdb" in said  # another store: no default


def test_the_demo_said_where_its_configuration_went(demo_build):
    assert "is the demo's configuration" in demo_build[2]


def test_the_pages_show_and_find_people_by_name(monkeypatch, demo_build):
    from tests.dashboard.test_pages import all_text, open_page, start

    _, store, _ = demo_build
    jump = _traveller(store)
    app = open_page(start(monkeypatch, store), "alert.py", id=jump["alert_id"])
    assert f"User: {jump['username']} ({jump['user_full_name']}, {jump['user_id']})" in all_text(
        app
    )
    app = open_page(app, "search.py", q=jump["user_full_name"])
    assert "1 user(s)" in all_text(app)
    alerts = app.table[0].value.map(lambda cell: str(cell).strip("` "))  # cells: code spans
    assert jump["alert_id"] in set(alerts["alert_id"])
    assert set(alerts["username"]) == {jump["username"]} and set(alerts["matched"]) == {"user"}


def test_digest_enabled_must_be_true_or_false(tmp_path):
    from ingest import config as config_module
    from ingest.errors import ConfigError

    path = tmp_path / "tokensentry.toml"
    path.write_text('[digest]\nenabled = "no"\n')
    with pytest.raises(ConfigError, match=r"digest\.enabled: expected true or false"):
        config_module.load(path, required=True)
    path.write_text("[digest]\nenabled = false\n")
    assert config_module.load(path, required=True).digest.enabled is False
