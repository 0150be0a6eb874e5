"""The evidence pack an analyst attaches to a ticket or sends to Salesforce's security team:
every pulled event as CSV, and a short Markdown summary of what happened.

Both are built from log strings an attacker controls (user agents, app and user names), so the
CSV is spreadsheet-safe (queries.export) and every data value in the Markdown goes through
`console.plain` (secrets scrubbed, control and invisible characters shown as escapes), is
defanged (`hxxps://evil[.]example`: no renderer or mail client autolinks it) and then either
sits in a code span fenced longer than any backtick run in it, or (prose) has every ASCII
punctuation character backslash-escaped. So no link, image, raw HTML, heading or table break
comes from data; the only link is ours, to the configured `dashboard_url`. A missing value
is `-`, never `nan`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from .console import plain
from .digest.defang import defang
from .queries.export import rows_csv
from .queries.investigation import Scope

EVENT_FIELDS = (
    "occurred_at", "org_id", "event_type", "grant_type", "is_success", "status", "user_id",
    "username", "app", "app_inferred", "source_ip", "country_iso", "city", "user_agent",
    "api_family", "api_resource", "rows_processed", "entity_name", "job_id", "job_status",
    "worker", "token_fp", "new_token_fp",
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
    dashboard_url: str | None = None,
    blast: dict[str, Any] | None = None,
) -> EvidencePack:
    folder.mkdir(parents=True, exist_ok=True)
    # The id is ours (hex), but a file name is no place to trust that: no `/`, no `..`.
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", f"tokensentry-{scope.kind}-{scope.target_id}")[:120]
    records = events.astype(object).where(events.notna(), None).to_dict("records")
    csv_path = folder / f"{stem}-events.csv"
    csv_path.write_text(rows_csv(records, [f for f in EVENT_FIELDS if f in events]), "utf-8")
    md_path = folder / f"{stem}-summary.md"
    text = summary(scope, events, alerts, chain, org_labels, csv_path.name, dashboard_url)
    if blast is not None:  # queries.blast_radius of the incident: what it read, per org
        text = text.rstrip("\n") + "\n\n" + blast_section(blast, org_labels)
    md_path.write_text(text, "utf-8")
    return EvidencePack(csv_path, md_path)


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def _missing(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def _safe(value: object, limit: int) -> str:
    return "" if _missing(value) else defang(plain(value), limit=limit)


def _code(value: object, *, cell: bool = False, limit: int = 300) -> str:
    """`value` as a code span: nothing inside is Markdown or HTML. The fence is one backtick
    longer than the longest run in the value; in a table cell `|` is escaped (GFM splits
    cells before it reads code spans)."""
    text = _safe(value, limit)
    if not text:
        return "-"
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    if text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    if cell:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def _text(value: object, limit: int = 300) -> str:
    """`value` as Markdown prose: every ASCII punctuation character backslash-escaped."""
    text = _safe(value, limit)
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text) if text else "-"


def _when(value: object, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return "-" if _missing(value) else format(pd.Timestamp(value), pattern)


def _link(dashboard_url: str | None, scope: Scope) -> list[str]:
    if not dashboard_url:
        return []
    base = quote(dashboard_url.rstrip("/"), safe=":/?=&%~.-_")
    target = f"{base}/{scope.kind}?id={quote(scope.target_id, safe='')}"
    return [f"[Open the {scope.kind} in tokensentry]({target})", ""]


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
    dashboard_url: str | None = None,
) -> str:
    def listed(values: list[str]) -> str:
        return ", ".join(_code(v) for v in values) or "-"

    orgs = ", ".join(f"{_code(org_labels.get(o, o))} ({_code(o)})" for o in scope.org_ids) or "-"
    people = (
        ", ".join(
            f"{_code(scope.usernames[u])} ({_code(u)})" if scope.usernames.get(u) else _code(u)
            for u in scope.user_ids
        )
        or "-"
    )
    lines = [
        f"# tokensentry {_text(scope.kind)} {_text(scope.target_id)} ({_text(scope.severity)})",
        "",
        f"Prepared {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the tokensentry store.",
        "",
        *_link(dashboard_url, scope),
        "## What happened",
        "",
        _text(scope.summary, limit=1000),
        "",
        f"- First seen: {_when(scope.first_seen, '%Y-%m-%d %H:%M:%S')} UTC; last seen: "
        f"{_when(scope.last_seen, '%Y-%m-%d %H:%M:%S')} UTC",
        f"- Orgs: {orgs}",
        f"- Apps: {listed(scope.apps)}",
        f"- Users: {people}",
        f"- Suspect addresses: {listed(scope.ips)}",
        f"- The partner's own egress also involved: {listed(scope.trusted_ips)}",
        f"- Detectors: {listed(scope.detectors)}",
        "",
        "## Alerts",
        "",
        "| alert | detector | severity | org | summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in alerts.itertuples(index=False):
        lines.append(
            f"| {_code(row.alert_id, cell=True)} | {_code(row.detector, cell=True)} "
            f"| {_text(row.severity)} | {_code(row.org_id, cell=True)} "
            f"| {_text(row.summary, limit=240)} |"
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
            label = org_labels.get(str(org_id), org_id)
            lines.append(
                f"| {_code(label, cell=True)} | {int(row['events'])} | "
                f"{int(row['suspect_ip_events'])} | {_when(row['first'])} | {_when(row['last'])} |"
            )
    if not chain.empty:
        lines += ["", "## Token chain (the partner's token log)", "",
                  "| at | worker | presented | returned | IP | outcome |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for row in _around_refusals(chain).itertuples(index=False):
            lines.append(
                f"| {_when(row.at, '%Y-%m-%d %H:%M:%S')} | {_code(row.worker, cell=True)} | "
                f"{_code(row.presented, cell=True, limit=12)} | "
                f"{_code(row.returned, cell=True, limit=12)} | "
                f"{_code(row.ip, cell=True)} | {_text(row.outcome)} |"
            )
    lines += ["", f"All {len(events)} events are in `{csv_name}`.", ""]  # our own file name
    return "\n".join(lines)


def blast_section(blast: dict[str, Any], org_labels: dict[str, str]) -> str:
    """The incident's blast radius: rows per org and object, sessions, span, coverage."""
    lines = [
        "## Blast radius: what its sessions and addresses read",
        "",
        f"- Window searched: {_text(blast['window']['start'])} to {_text(blast['window']['end'])}",
        f"- Sessions: {', '.join(_code(s) for s in blast['sessions']) or '-'}",
        f"- Addresses: {', '.join(_code(a) for a in blast['addresses']) or '-'}",
        f"- Rows read in all: {blast['rows_total']:,}",
        "",
        "| org | coverage | object | rows | Bulk jobs | first minute | last minute |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for org in blast["orgs"]:
        label = _code(org_labels.get(org["org_id"], org["org_id"]), cell=True)
        coverage = _text(org["coverage"])
        if not org["objects"]:
            lines.append(f"| {label} | {coverage} | - | - | - | - | - |")
        for item in org["objects"]:
            lines.append(
                f"| {label} | {coverage} | {_code(item['object'], cell=True)} | "
                f"{item['rows']:,} | {item['jobs']} | {_text(item['first_minute'])} | "
                f"{_text(item['last_minute'])} |"
            )
    return "\n".join(lines) + "\n"
