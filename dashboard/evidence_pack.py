"""The evidence pack an analyst attaches to a ticket or sends to Salesforce's security team:
every pulled event as CSV, and a short Markdown summary of what happened.

Both are built from log strings an attacker controls (user agents, app and user names), so the
CSV is spreadsheet-safe (queries.export) and the Markdown carries them defanged inside code
spans: no link, no markup, no hidden characters reach whoever opens the pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .digest.defang import defang
from .queries.export import rows_csv
from .queries.investigation import Scope

EVENT_FIELDS = (
    "occurred_at", "org_id", "event_type", "grant_type", "is_success", "status", "user_id",
    "username", "app", "app_inferred", "source_ip", "country_iso", "city", "user_agent",
    "api_family", "api_resource", "rows_processed", "worker", "token_fp", "new_token_fp",
    "error_description", "sources", "pulled_by", "event_id",
)  # fmt: skip


@dataclass(frozen=True)
class EvidencePack:
    csv: Path
    summary: Path


def write(
    folder: Path,
    scope: Scope,
    events: pd.DataFrame,
    alerts: pd.DataFrame,
    chain: pd.DataFrame,
    org_labels: dict[str, str],
) -> EvidencePack:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"tokensentry-{scope.kind}-{scope.target_id}"
    records = events.astype(object).where(events.notna(), None).to_dict("records")
    csv_path = folder / f"{stem}-events.csv"
    csv_path.write_text(rows_csv(records, [f for f in EVENT_FIELDS if f in events]), "utf-8")
    md_path = folder / f"{stem}-summary.md"
    md_path.write_text(summary(scope, events, alerts, chain, org_labels, csv_path.name), "utf-8")
    return EvidencePack(csv_path, md_path)


def _code(value: object) -> str:
    return "`" + defang(value).replace("`", "'") + "`"


def _around_refusals(chain: pd.DataFrame, before: int = 4) -> pd.DataFrame:
    """The calls leading up to each refused presentation (the story is there), else the last."""
    refused = [i for i, outcome in enumerate(chain["outcome"]) if outcome != "accepted"]
    if not refused:
        return chain.tail(before * 2)
    keep = sorted({j for i in refused for j in range(max(0, i - before), i + 2)})
    return chain.iloc[[j for j in keep if j < len(chain)]]


def summary(
    scope: Scope,
    events: pd.DataFrame,
    alerts: pd.DataFrame,
    chain: pd.DataFrame,
    org_labels: dict[str, str],
    csv_name: str,
) -> str:
    orgs = ", ".join(f"{_code(org_labels.get(o, o))} ({_code(o)})" for o in scope.org_ids) or "-"
    lines = [
        f"# tokensentry {scope.kind} {scope.target_id} ({scope.severity})",
        "",
        f"Prepared {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the tokensentry store.",
        "",
        "## What happened",
        "",
        defang(scope.summary, limit=1000),
        "",
        f"- First seen: {scope.first_seen:%Y-%m-%d %H:%M:%S} UTC; last seen: "
        f"{scope.last_seen:%Y-%m-%d %H:%M:%S} UTC",
        f"- Orgs: {orgs}",
        f"- Apps: {', '.join(_code(a) for a in scope.apps) or '-'}",
        f"- Users: {', '.join(_code(u) for u in scope.user_ids) or '-'}",
        f"- Suspect addresses: {', '.join(_code(ip) for ip in scope.ips) or '-'}",
        f"- The partner's own egress also involved: "
        f"{', '.join(_code(ip) for ip in scope.trusted_ips) or '-'}",
        f"- Detectors: {', '.join(scope.detectors)}",
        "",
        "## Alerts",
        "",
        "| alert | detector | severity | org | summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in alerts.itertuples(index=False):
        lines.append(
            f"| {_code(row.alert_id)} | {row.detector} | {row.severity} | {_code(row.org_id)} "
            f"| {defang(row.summary, limit=240).replace('|', '/')} |"
        )
    lines += ["", "## Every event of the suspect addresses and users, per org", ""]
    if events.empty:
        lines.append("No events.")
    else:
        per_org = events.groupby("org_id").agg(
            events=("event_id", "size"),
            first=("occurred_at", "min"),
            last=("occurred_at", "max"),
            suspect_ip_events=("source_ip", lambda s: int(s.isin(scope.ips).sum())),
        )
        lines += [
            "| org | events | from suspect IPs | first | last |",
            "| --- | --- | --- | --- | --- |",
        ]
        for org_id, row in per_org.iterrows():
            lines.append(
                f"| {_code(org_labels.get(str(org_id), org_id))} | {row['events']} | "
                f"{row['suspect_ip_events']} | {row['first']:%Y-%m-%d %H:%M} | "
                f"{row['last']:%Y-%m-%d %H:%M} |"
            )
    if not chain.empty:
        lines += ["", "## Token chain (the partner's token log)", "",
                  "| at | worker | presented | returned | IP | outcome |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for row in _around_refusals(chain).itertuples(index=False):
            lines.append(
                f"| {row.at:%Y-%m-%d %H:%M:%S} | {_code(row.worker)} | "
                f"{_code(str(row.presented)[:12])} | {_code(str(row.returned)[:12])} | "
                f"{_code(row.ip)} | {row.outcome} |"
            )
    lines += ["", f"All {len(events)} events are in `{csv_name}`.", ""]
    return "\n".join(lines)
