"""`alerts --format ocsf|ndjson|native-ndjson`: the records `alerts --format json` prints, in
the shapes a SIEM ingests (dashboard/export/ocsf.py has the mapping).

- `ocsf`: one JSON array of OCSF Detection Findings (class 2004);
- `ndjson`: the same findings, one per line (Splunk HEC raw, Elastic, Sentinel, Security Lake);
- `native-ndjson`: the CONTRACT §5 records, one per line.

Secrets are scrubbed on the way out as in every other format.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from ingest.formats.redact import redact

from ..export import ocsf

if TYPE_CHECKING:
    from ..settings import Settings

EXPORT_FORMATS = ("ocsf", "ndjson", "native-ndjson")


def export_records(settings: Settings, records: list[dict[str, Any]], fmt: str, what: str) -> int:
    """Write `records` (alerts, or incidents when `what` is "incidents") as `fmt` on stdout."""
    # A NULL read through pandas is NaN in incident records: null in JSON, as `--format json`.
    records = [ocsf.missing_as_none(record) for record in redact(records)]
    if fmt == "native-ndjson":
        sys.stdout.write(ocsf.ndjson(records))
        return 0
    link = settings.load_config().digest.dashboard_url
    mapping = ocsf.incident_findings if what == "incidents" else ocsf.alert_findings
    findings = mapping(records, dashboard_url=link)
    if fmt == "ocsf":
        sys.stdout.write(json.dumps(findings, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(ocsf.ndjson(findings))
    return 0
