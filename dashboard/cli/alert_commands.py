"""The analyst's commands on alerts: `alerts` (and incidents) and `triage`."""

from __future__ import annotations

import click

from ..export.ocsf import OCSF_VERSION
from ..settings import Settings
from .alert_exports import EXPORT_FORMATS
from .options import FORMATS, store_options, when


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*FORMATS.choices, *EXPORT_FORMATS]),
    default="table",
    help=f"ocsf: OCSF {OCSF_VERSION} Detection Findings (a JSON array); ndjson: the same, "
    "one per line; native-ndjson: the json records, one per line.",
)
@click.option("--detector", "detectors", multiple=True, help="Only this detector (repeatable).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["new", "acknowledged", "resolved", "false_positive"]),
    help="Only this triage status (repeatable).",
)
@click.option("--since", help="Alerts last seen since WHEN (24h, 7d or ISO 8601).")
@click.option(
    "--severity",
    "min_severity",
    help="Minimum severity.",
    type=click.Choice(["info", "low", "medium", "high", "critical"]),
)
@click.option(
    "--superseded",
    "include_superseded",
    is_flag=True,
    help="Also list alerts a full re-scan (`detect --all`) no longer finds.",
)
@click.option(
    "--incidents", "as_incidents", is_flag=True, help="List incidents (grouped alerts) instead."
)
@store_options
def alerts(
    settings: Settings,
    fmt: str,
    detectors: tuple[str, ...],
    statuses: tuple[str, ...],
    since: str | None,
    min_severity: str | None,
    include_superseded: bool,
    as_incidents: bool,
) -> int:
    """List alerts, most severe first; with --incidents, the incidents that group them.

    Example: tokensentry alerts --incidents --status new --severity high
    """
    from .commands import list_alerts, list_incidents

    if as_incidents:
        return list_incidents(
            settings, fmt, list(detectors), list(statuses), when(since), min_severity
        )
    return list_alerts(
        settings,
        fmt,
        list(detectors),
        list(statuses),
        when(since),
        min_severity,
        include_superseded=include_superseded,
    )


@click.command()
@click.argument("target_ids", metavar="ID...", nargs=-1, required=True)
@click.option(
    "--status",
    required=True,
    type=click.Choice(["new", "acknowledged", "resolved", "false_positive"]),
)
@click.option("--note", help="Why (kept with the decision).")
@click.option("--analyst", help="Who decided (default: $USER).")
@click.option(
    "--alert",
    "only_alert",
    is_flag=True,
    help="The id is an alert even when it also names an incident (its first alert).",
)
@store_options
def triage(
    settings: Settings,
    target_ids: tuple[str, ...],
    status: str,
    note: str | None,
    analyst: str | None,
    only_alert: bool,
) -> int:
    """Record an analyst's decision on alerts or incidents, appended to the audit trail;
    detection never overwrites it. An incident id applies to every alert it holds now.

    Example: tokensentry triage 3f2a9c... --status false_positive --note "new NAT gateway"
    """
    from .commands import set_triage

    return set_triage(settings, list(target_ids), status, note, analyst, only_alert)
