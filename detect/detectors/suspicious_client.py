"""Logins and API calls by the tools, addresses and fake apps of the 2025 OAuth campaigns.

Why it matters: UNC6395 used stolen Drift tokens straight from its own clients
(`Salesforce-Multi-Org-Fetcher/1.0`, `Salesforce-CLI/1.0`, python-requests, aiohttp) on AWS,
DigitalOcean and Tor; UNC6040 had victims approve a modified Data Loader under names such as
"My Ticket Portal". Three indicators, each grouped per org and UTC day:

- user agent on the IOC list, at the severity the list gives; generic scripting agents
  (python-requests, aiohttp) are skipped when they are the app's own baseline agent (at least
  `baseline_min_events` of its events and `baseline_share` of them, on its other days: the
  day being judged is never its own baseline);
- source IP on the IOC list (published Drift IPs and Tor exits, `detect/data/iocs.json` or
  your own `ioc_file`): high, critical when a login or refresh succeeded;
- an app whose name looks like Data Loader / My Ticket Portal but is not the genuine one
  (`genuine_app_names`, and `genuine_app_ids` when the row carries the app id): high.

Blind spots: attackers who change their user agent or egress (most will); the Login ELF has no
app name; a look-alike app named exactly like the genuine one is caught only by its id.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from ..detector import Context, Detector, Example, Finding, severity_rank
from ..testing import ALLOWED_IP, event, refresh


def load_iocs(path: str) -> dict[str, Any]:
    if path:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    return json.loads((resources.files("detect") / "data" / "iocs.json").read_text("utf-8"))


def _ua_condition(iocs: list[dict]) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for ioc in iocs:
        if ioc["match"] == "exact":
            clauses.append("e.user_agent = ?")
        elif ioc["match"] == "prefix":
            clauses.append("starts_with(e.user_agent, ?)")
        else:
            clauses.append("contains(lower(e.user_agent), lower(?))")
        params.append(ioc["value"])
    return "(" + " OR ".join(clauses or ["false"]) + ")", params


def _matching_ioc(agent: str, iocs: list[dict]) -> dict | None:
    for ioc in iocs:
        value = ioc["value"]
        if (
            (ioc["match"] == "exact" and agent == value)
            or (ioc["match"] == "prefix" and agent.startswith(value))
            or (ioc["match"] == "contains" and value.lower() in agent.lower())
        ):
            return ioc
    return None


def find(ctx: Context) -> list[Finding]:
    s = ctx.settings
    iocs = load_iocs(s["ioc_file"])
    ua_sql, ua_params = _ua_condition(iocs["user_agents"])
    bad_ips = {entry["ip"]: entry.get("note", "") for entry in iocs["ips"]}
    pattern = re.compile(iocs["lookalike_apps"]["pattern"])
    app_names = [
        name
        for (name,) in ctx.con.execute(
            f"SELECT DISTINCT app_name FROM events e "
            f"WHERE {ctx.scope_sql()} AND app_name IS NOT NULL"
        ).fetchall()
        if pattern.search(name)
    ]
    matches = ctx.rows(
        f"""SELECT event_id, org_id, app_name, connected_app_id, user_id, occurred_at, source_ip,
                   user_agent, coalesce(is_success, false) AS ok, event_type, grant_type
            FROM events e
            WHERE {ctx.scope_sql()} AND ({ua_sql} OR list_contains(?, e.source_ip)
                                         OR list_contains(?, e.app_name))
            ORDER BY occurred_at, event_id""",
        [*ua_params, list(bad_ips), app_names],
    )
    groups: dict[tuple, dict[str, Any]] = {}
    genuine_names = {n.lower() for n in s["genuine_app_names"]}
    genuine_ids = set(s["genuine_app_ids"])
    agent_iocs = {
        agent: _matching_ioc(agent, iocs["user_agents"])
        for agent in {row["user_agent"] for row in matches if row["user_agent"]}
    }
    baselines = _baselines(ctx, matches, agent_iocs, s)
    for row in matches:
        day = row["occurred_at"].date()
        agent = row["user_agent"]
        ioc = agent_iocs[agent] if agent else None
        generic = ioc is not None and ioc["severity"] == "medium"
        if generic:
            key = _baseline_key(row)
        if ioc and not (generic and baselines[key]):
            _add(
                groups,
                ("agent", row["org_id"], agent, day),
                row,
                ioc["severity"],
                f"used the attacker tooling user agent {agent!r} ({ioc['note']})",
            )
        if row["source_ip"] in bad_ips:
            severity = (
                "critical"
                if row["ok"] and row["event_type"] in ("login", "token_exchange")
                else "high"
            )
            _add(
                groups,
                ("ip", row["org_id"], row["source_ip"], day),
                row,
                severity,
                f"came from {row['source_ip']}, a published IOC ({bad_ips[row['source_ip']]})",
            )
        app = row["app_name"]
        if app in app_names:
            by_name = app.lower() not in genuine_names
            by_id = bool(
                genuine_ids
                and row["connected_app_id"]
                and row["connected_app_id"] not in genuine_ids
            )
            if by_name or by_id:
                _add(
                    groups,
                    ("app", row["org_id"], app, day),
                    row,
                    "high",
                    f"authenticated through the app {app!r}, which looks like Data Loader / "
                    "My Ticket Portal but is not the genuine app (UNC6040)",
                )
    return [_finding(ctx, key, group) for key, group in groups.items()]


def _baseline_key(row: dict) -> tuple:
    return (
        row["org_id"],
        row["app_name"] or row["user_id"],
        row["user_agent"],
        row["event_type"],
        row["occurred_at"].date(),
    )


BASELINE_SQL = """
SELECT k.org_id, k.value, k.agent, k.event_type, CAST(e.occurred_at AS DATE) AS day,
       count(*) FILTER (WHERE e.user_agent = k.agent) AS same, count(*) AS total
FROM events e
JOIN baseline_keys k
  ON e.org_id = k.org_id AND e.{column} = k.value AND e.event_type = k.event_type
WHERE k.column_name = '{column}' AND e.user_agent IS NOT NULL
GROUP BY ALL
"""


def _baselines(ctx: Context, matches: list[dict], agent_iocs: dict, s: dict) -> dict[tuple, bool]:
    """Whether each generic scripting agent is its app's (or, without an app, its user's)
    baseline: at least `baseline_min_events` events and `baseline_share` of them, counted on
    the app's other days, so a burst of attacker calls cannot make itself the baseline (and the
    first day of the logs still has the later days as its history). Logins and API calls are
    baselines apart: an integration may refresh with one library and query with another.

    One pass over the events for every key: per key and day, then each day's count is the
    whole history's less its own."""
    wanted: dict[tuple, str] = {}  # key -> the column it is counted on (its first row's)
    for row in matches:
        ioc = agent_iocs.get(row["user_agent"]) if row["user_agent"] else None
        if ioc is not None and ioc["severity"] == "medium":
            wanted.setdefault(_baseline_key(row), "app_name" if row["app_name"] else "user_id")
    if not wanted:
        return {}
    import pyarrow as pa

    series = {(col, *key[:4]) for key, col in wanted.items()}
    keys = pa.table(
        {
            "column_name": pa.array([k[0] for k in series], pa.string()),
            "org_id": pa.array([k[1] for k in series], pa.string()),
            "value": pa.array([k[2] for k in series], pa.string()),
            "agent": pa.array([k[3] for k in series], pa.string()),
            "event_type": pa.array([k[4] for k in series], pa.string()),
        }
    )
    per_day: dict[tuple, tuple[int, int]] = {}
    overall: dict[tuple, list[int]] = {}
    ctx.con.register("baseline_keys", keys)
    try:
        for column in ("app_name", "user_id"):
            for org, value, agent, kind, day, same, total in ctx.con.execute(
                BASELINE_SQL.format(column=column)
            ).fetchall():
                series_key = (column, org, value, agent, kind)
                per_day[(*series_key, day)] = (same, total)
                counts = overall.setdefault(series_key, [0, 0])
                counts[0] += same
                counts[1] += total
    finally:
        ctx.con.unregister("baseline_keys")
    verdicts = {}
    for key, column in wanted.items():
        series_key = (column, *key[:4])
        all_same, all_total = overall.get(series_key, (0, 0))
        day_same, day_total = per_day.get((*series_key, key[4]), (0, 0))
        same, total = all_same - day_same, all_total - day_total
        verdicts[key] = same >= s["baseline_min_events"] and same >= s["baseline_share"] * total
    return verdicts


def _add(groups: dict, key: tuple, row: dict, severity: str, what: str) -> None:
    group = groups.setdefault(key, {"rows": [], "severity": severity, "what": what})
    group["rows"].append(row)
    if severity_rank(severity) > severity_rank(group["severity"]):
        group["severity"], group["what"] = severity, what


def _finding(ctx: Context, key: tuple, group: dict) -> Finding:
    kind, org_id, indicator, day = key
    rows = group["rows"]
    users = sorted({r["user_id"] for r in rows if r["user_id"]})
    apps = sorted({r["app_name"] for r in rows if r["app_name"]})
    who = f"user {users[0]}" if len(users) == 1 else f"{len(users)} users"
    return Finding(
        dedup_key=f"{kind}|{org_id}|{indicator}|{day}",
        summary=(
            f"{ctx.org_label(org_id)}: {len(rows)} event(s) of {who}"
            + (f" via {', '.join(apps)}" if apps else "")
            + f" on {day} {group['what']}."
        ),
        first_seen_at=rows[0]["occurred_at"],
        last_seen_at=rows[-1]["occurred_at"],
        event_ids=[r["event_id"] for r in rows],
        evidence={
            "indicator": kind,
            "value": indicator,
            "users": users,
            "apps": apps,
            "successes": sum(1 for r in rows if r["ok"]),
            "user_agents": sorted({r["user_agent"] for r in rows if r["user_agent"]}),
        },
        org_id=org_id,
        app_name=apps[0] if len(apps) == 1 else None,
        user_id=users[0] if len(users) == 1 else None,
        ips=sorted({r["source_ip"] for r in rows if r["source_ip"]}),
        severity=group["severity"],  # type: ignore[arg-type]
    )


EXAMPLES = [
    Example("the Drift fetcher's user agent is critical",
            [refresh("2026-05-01T09:00:00", "198.51.100.5",
                     user_agent="Salesforce-Multi-Org-Fetcher/1.0")],
            expect=1, severity="critical"),
    Example("a refresh from a published Tor exit that succeeded is critical",
            [refresh("2026-05-01T09:00:00", "185.220.101.33")], expect=1, severity="critical"),
    Example("python-requests that is the integration's agent on its other days is not news",
            [refresh(f"2026-05-0{d}T{h:02d}:00:00", ALLOWED_IP, user_agent="python-requests/2.31.0")
             for d in (1, 2) for h in range(0, 24)], expect=0,
            settings={"baseline_min_events": 20}),
    Example("a burst of 60 python-requests calls on one day cannot be its own baseline",
            [*(refresh(f"2026-05-01T{h:02d}:00:00", ALLOWED_IP, user_agent="Java/17.0.9")
               for h in range(24)),
             *(refresh(f"2026-05-02T03:{m:02d}:00", "198.51.100.9",
                       user_agent="python-requests/2.32.4") for m in range(60))],
            expect=1, severity="medium"),
    Example("Salesforce's own Data Loader apps (Dataloader Partner, Dataloader Bulk) are genuine",
            [event("2026-05-01T09:00:00", app_name="Dataloader Partner", grant_type="password"),
             event("2026-05-01T09:05:00", app_name="Dataloader Bulk", grant_type="password")],
            expect=0),
    Example("python-requests from a new integration is a medium alert",
            [refresh("2026-05-01T09:00:00", ALLOWED_IP, user_agent="python-requests/2.32.4")],
            expect=1, severity="medium"),
    Example("a look-alike 'My Ticket Portal' app is high",
            [event("2026-05-01T09:00:00", app_name="My Ticket Portal", grant_type="device")],
            expect=1, severity="high"),
    Example("the genuine Data Loader and an ordinary browser raise nothing",
            [event("2026-05-01T09:00:00", app_name="Data Loader", grant_type="authorization_code"),
             event("2026-05-01T09:05:00", user_agent="Mozilla/5.0 Chrome/131.0")], expect=0),
]  # fmt: skip

DETECTOR = Detector(
    id="suspicious_client",
    title="Attacker tooling, IOC address or look-alike app",
    severity="high",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Read the indicator in the evidence: user agent, IP or app.
2. IOC IP or attacker user agent with successes: revoke the user's tokens for the app at once,
   freeze the user, and pull the user's API activity (ApiTotalUsage, RestApi, BulkApi2) for the
   day; look for SELECT COUNT() recon and Bulk API 2.0 jobs deleted right after completion.
3. Look-alike app: Setup > Connected Apps OAuth Usage: block the app, revoke its tokens, find
   who approved it (Setup Audit Trail) and call them: UNC6040 works by phone.
4. A generic agent (python-requests) that is in fact the partner's new integration: let it
   build its baseline and mark the alert false_positive.
""",
    settings={
        "ioc_file": "",  # empty: the bundled detect/data/iocs.json
        "baseline_min_events": 20,
        "baseline_share": 0.5,
        # Salesforce's own Data Loader connected apps, as /limits and OAuth usage name them.
        "genuine_app_names": ["Data Loader", "Dataloader Partner", "Dataloader Bulk"],
        "genuine_app_ids": [],  # your orgs' genuine Data Loader connected app ids (0H4...)
    },
    attack=("T1550.001", "T1090.003"),  # token use; multi-hop proxy (Tor)
    needs="user agents (Login ELF, ApiTotalUsage, LoginEvent), source IPs, app names",
)
