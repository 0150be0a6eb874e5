"""A demo store with hostile text planted in every field the dashboard shows (issue 19): app
name, user agent, partner worker, error_description, city, quarantine reason, analyst name and
note, org name, username; plus a 1 MB app name and user agent. The same shapes, benign, make
the clean store the browser test compares against."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dashboard import queries
from ingest import db

from .conftest import plant_alert

FIELDS = ("app", "ua", "worker", "error", "city", "reason", "analyst", "note", "org", "username")
HUGE = 1_048_576
PLANTED_ORG_ALIAS = "acme-partner"  # the lowest org id: the one plant_alert writes into
MAIN_ALERT = "plantedhostile000001"
HUGE_ALERT = "plantedhostile000002"
IP, HUGE_IP = "198.51.100.66", "198.51.100.68"


def hostile(field: str, beacon: str) -> str:
    """Every shape at once: Markdown image/link/bold/emphasis, Streamlit directives, icon and
    emoji shortcodes, LaTeX, raw HTML, bare URLs, an e-mail address, ANSI escapes, CR/LF, a
    right-to-left override and zero-width characters. `beacon` must never be fetched."""
    return (
        f"{field} Data Loader ![i]({beacon}/{field}.png) [LNK]({beacon}/{field}-link) **B** _e_ "
        f":red[R] :red-badge[X] :material/home: :smile: $$\\LaTeX$$ $x$ "
        f'<img src="{beacon}/{field}-html.png"> <script>alert(1)</script> '
        f"{beacon}/{field}-bare www.example.com ada@example.com ~~s~~ "
        f"\x1b[31mansi\x1b[0m cr\rlf\n My Ticket Portal \u202e)enuineg( cnyS emcA\u202c "
        f"z\u200bw\u200d\ufeff\u2066x\u2069"
    )


def benign(field: str, beacon: str) -> str:
    return f"{field} Data Loader plain"


@dataclass
class Planted:
    store: Path
    config: Path
    incident: str
    huge_incident: str


def build(demo_db: Path, folder: Path, text, beacon: str) -> Planted:
    """A copy of the demo store (and its config) with `text(field, beacon)` in every field."""
    folder.mkdir(parents=True)
    store, config = folder / "store.duckdb", folder / "tokensentry.toml"
    shutil.copy(demo_db, store)
    value = {field: text(field, beacon) for field in FIELDS}
    huge = (text("huge", beacon) + " ") * (HUGE // len(text("huge", beacon)) + 1)
    huge = huge[:HUGE]

    toml = (demo_db.parent / "tokensentry.toml").read_text()
    assert f"[orgs.{PLANTED_ORG_ALIAS}]" in toml
    toml = toml.replace(f"[orgs.{PLANTED_ORG_ALIAS}]", f"[orgs.{json.dumps(value['org'])}]")
    toml += f'\n[apps.{json.dumps(value["app"])}]\nallowlist = ["192.0.2.0/29"]\n'
    config.write_text(toml)

    incident = plant_alert(
        store, alert_id=MAIN_ALERT, app=value["app"], ip=IP, detector="refresh_token_reuse",
        places=[(IP, value["city"], "NL", 52.37, 4.89),
                ("198.51.100.67", "Boston", "US", 42.36, -71.06)],
        token_fps=[(value["worker"], "fp-A", "fp-B", True), ("worker-2", "fp-A", None, False)],
    )  # fmt: skip
    huge_incident = plant_alert(store, alert_id=HUGE_ALERT, app=huge, ip=HUGE_IP)
    with db.connect(store) as con:
        con.execute(
            "UPDATE events SET user_agent = ?, username = ?, error_description = ? "
            "WHERE event_id LIKE ?",
            [value["ua"], value["username"], value["error"], f"planted-{MAIN_ALERT}-%"],
        )
        con.execute(
            "UPDATE events SET user_agent = ?, username = ? WHERE event_id LIKE ?",
            [huge, huge, f"planted-{HUGE_ALERT}-%"],
        )
        newest, org = con.execute("SELECT max(occurred_at), min(org_id) FROM events").fetchone()
        for index, (app, username) in enumerate(((value["app"], value["username"]), (huge, huge))):
            at = newest - timedelta(days=27, hours=index)
            con.execute(
                """INSERT INTO events (event_id, org_id, occurred_at, event_type, user_id,
                       username, app_name, use_count, token_created_at, sources, first_run_id,
                       ingested_at, updated_at)
                   VALUES (?, ?, ?, 'token_usage', '005PLANTED0000000A', ?, ?, 3, ?,
                       ['test'], 'test', ?, ?)""",
                [f"planted-token-{index}", org, at, username, app, at - timedelta(days=60),
                 at, at],
            )  # fmt: skip
        con.execute(
            "INSERT INTO quarantine (quarantine_id, run_id, origin, line, reason, raw_text, "
            "quarantined_at) VALUES ('plantedq1', 'test', ?, 7, ?, ?, ?)",
            [value["reason"], value["reason"], value["reason"], newest],
        )
        con.execute(
            "INSERT INTO runs (run_id, stage, unit_id, org_id, started_at, finished_at, status, "
            "error) VALUES ('plantedrun', 'ingest', ?, ?, ?, ?, 'failed', ?)",
            [f"{PLANTED_ORG_ALIAS}/login_history", org, newest, newest, value["error"]],
        )
        queries.triage(
            con, [MAIN_ALERT], "acknowledged", note=value["note"], analyst=value["analyst"],
            now=newest, kind="alert",
        )  # fmt: skip
    return Planted(store, config, incident, huge_incident)
