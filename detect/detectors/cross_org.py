"""One app in trouble in many orgs at once: a vendor-side compromise.

Why it matters: Drift and Gainsight were breached on the vendor's side, and their tokens were
then used against hundreds of tenants within hours. A per-org detector sees one odd network or
one attacker user agent; this one sees the same app raise `new_network`, `off_allowlist_ip`
or `suspicious_client` alerts in at least `min_orgs` orgs within `window_hours`, and links them
in one critical alert.

It reads other detectors' alerts (it runs after them) and groups by app name, case-insensitive.
Alerts whose app was inferred for app-less Login ELF rows (`detect/attribution.py`) count like
the others, so a wave seen only in orgs that export files is still a wave; the summary says how
many of the linked alerts stand on an inferred app.

Routine rotation is no sign: an app without NAT refreshing from a new block of the cloud region
it already uses raises no `new_network` alert (see there), and a block of a region it rotates
through in other orgs is reported at low and left out here. Its tokens used from another
provider, region or a home line in `min_orgs` orgs still are a wave.

Blind spots: fewer monitored orgs than `min_orgs`; an app known under different names in
different orgs; per-org alerts an analyst already closed as false positives still count.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from ..detector import Context, Detector, Example, Finding
from ..testing import ORG, OTHER_ORG, refresh
from .new_network import NO_ALLOWLIST, NO_NAT

THIRD_ORG = "00D5g00000InTeCEAV"

ALERTS_SQL = """
SELECT alert_id, detector_id, org_id, app_name, first_seen_at, last_seen_at, event_ids, ips
FROM alerts
WHERE list_contains(?, detector_id) AND app_name IS NOT NULL AND org_id IS NOT NULL
  AND superseded_at IS NULL  -- a full re-scan no longer finds it
  -- a block of a provider region the app rotates through in other orgs is routine, not a sign
  AND NOT coalesce(TRY_CAST(evidence->>'routine_region_elsewhere' AS BOOLEAN), false)
ORDER BY lower(app_name), first_seen_at, alert_id
"""


def find(ctx: Context) -> list[Finding]:
    s = ctx.settings
    window = timedelta(hours=s["window_hours"])
    by_app: dict[str, list[tuple]] = defaultdict(list)
    for row in ctx.con.execute(ALERTS_SQL, [list(s["detectors"])]).fetchall():
        by_app[row[3].lower()].append(row)
    findings = []
    for alerts in by_app.values():
        start = 0
        while start < len(alerts):
            cluster = [a for a in alerts[start:] if a[4] < alerts[start][4] + window]
            orgs = {a[2] for a in cluster}
            if len(orgs) >= s["min_orgs"]:
                findings.append(_finding(ctx, cluster, orgs))
                start += len(cluster)
            else:
                start += 1
    return findings


INFERRED_SQL = """
SELECT count(*) FROM alerts
WHERE list_contains(?, alert_id) AND evidence->>'app_inferred' IS NOT NULL
"""


def _finding(ctx: Context, cluster: list[tuple], orgs: set[str]) -> Finding:
    app = cluster[0][3]
    inferred = ctx.con.execute(INFERRED_SQL, [[a[0] for a in cluster]]).fetchone()[0]  # type: ignore[index]
    detectors = sorted({a[1] for a in cluster})
    ips = sorted({ip for a in cluster for ip in a[7]})
    labels = ", ".join(ctx.org_label(o) for o in sorted(orgs))
    return Finding(
        dedup_key=f"{app.lower()}|{cluster[0][4]:%Y-%m-%d}",
        summary=(
            f"{app} raised {', '.join(detectors)} alerts in {len(orgs)} orgs within "
            f"{ctx.settings['window_hours']} h ({labels}); IPs {', '.join(ips[:6])}"
            f"{'…' if len(ips) > 6 else ''}: treat as a compromise of the app's vendor"
            + (f" ({inferred} of the alerts stand on an inferred app)" if inferred else "")
            + "."
        ),
        first_seen_at=min(a[4] for a in cluster),
        last_seen_at=max(a[5] for a in cluster),
        event_ids=sorted({e for a in cluster for e in a[6]}),
        evidence={
            "orgs": sorted(orgs),
            "alerts": [a[0] for a in cluster],
            "detectors": detectors,
            "alerts_on_inferred_app": inferred,
        },
        org_id=None,
        app_name=app,
        ips=ips,
        severity="critical",
    )


def _rotating(org_ids: list[str], days: int) -> list[dict]:
    """A no-NAT app's workers on a new AWS us-east-1 block each day, in every org."""
    return [
        refresh(f"2026-04-{1 + d:02d}T{h:02d}:{n:02d}:00", f"3.81.{d}.{10 + h}", org_id=org,
                app_name=NO_NAT)
        for d in range(days)
        for h in (1, 9, 17)
        for n, org in enumerate(org_ids)
    ]  # fmt: skip


ORGS3 = [ORG, OTHER_ORG, THIRD_ORG]

EXAMPLES = [
    Example(
        "the same app refreshed from a VPS in three orgs within five hours",
        [refresh("2026-05-01T01:00:00", "208.68.36.91", org_id=ORG),
         refresh("2026-05-01T03:00:00", "208.68.36.92", org_id=OTHER_ORG),
         refresh("2026-05-01T05:59:00", "208.68.36.93", org_id=THIRD_ORG)],
        expect=1, severity="critical",
    ),
    Example(
        "two orgs are not a fleet-wide pattern",
        [refresh("2026-05-01T01:00:00", "208.68.36.91", org_id=ORG),
         refresh("2026-05-01T03:00:00", "208.68.36.92", org_id=OTHER_ORG)],
        expect=0,
    ),
    Example(
        "three orgs a week apart are three separate stories",
        [refresh("2026-05-01T01:00:00", "208.68.36.91", org_id=ORG),
         refresh("2026-05-08T01:00:00", "208.68.36.92", org_id=OTHER_ORG),
         refresh("2026-05-15T01:00:00", "208.68.36.93", org_id=THIRD_ORG)],
        expect=0,
    ),
    Example(
        "an app without NAT on a new AWS us-east-1 block every day in three orgs is routine",
        _rotating(ORGS3, 28), apps=NO_ALLOWLIST, expect=0,
    ),
    Example(
        "the same app from DigitalOcean in three orgs within hours is a wave",
        [*_rotating(ORGS3, 20),
         *(refresh(f"2026-04-21T0{n}:30:00", f"208.68.36.{91 + n}", org_id=org, app_name=NO_NAT)
           for n, org in enumerate(ORGS3))],
        apps=NO_ALLOWLIST, expect=1, severity="critical",
    ),
]  # fmt: skip

DETECTOR = Detector(
    id="cross_org",
    title="One app showing attack signs in many orgs",
    severity="critical",
    description=__doc__ or "",
    find=find,
    examples=EXAMPLES,
    runbook="""\
1. Open the linked alerts (evidence.alerts): same IPs or user agents across orgs confirm it.
2. Call the app's vendor security contact and Salesforce (security@salesforce.com); if the app
   is yours, rotate its consumer secret and certificate and revoke every token of the app in
   every org (OAuth usage API: DELETE /apps/oauth/usage/{appId}/tokens).
3. Tell every subscriber org's admin; search all orgs for the IPs for the past 30 days.
""",
    settings={
        "min_orgs": 3,
        "window_hours": 24,
        "detectors": ["new_network", "off_allowlist_ip", "suspicious_client"],
    },
    attack=("T1199",),  # Trusted Relationship
    needs="alerts of new_network, off_allowlist_ip, suspicious_client",
    reads_alerts=True,
)
