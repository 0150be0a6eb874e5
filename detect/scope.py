"""Which apps the app-keyed detectors watch, and what counts as the partner's own network.

The allowlist, network and reuse detectors watch the partner's own apps: those configured in
`[apps]` and those named in the partner's own token log (only the partner writes it). Salesforce's
own apps and other vendors' apps refresh from homes and carrier networks all day; judging them
by a baseline drowns the analyst, so only the IOC and look-alike checks (`suspicious_client`)
watch every app. An `[apps]` entry without an allowlist is watched by all but `off_allowlist_ip`.

The partner's networks are judged by allowlist membership: every address inside the app's
allowlist (or its `known_egress`) is one trusted network, so a partner that egresses from
several regions is one network, not several.
"""

from __future__ import annotations

from .detector import Context
from .geo import network_of

PARTNER_APPS_SQL = """
SELECT DISTINCT lower(app_name) FROM events
WHERE event_type = 'token_exchange' AND app_name IS NOT NULL
"""

TRUSTED = "the app's allowlist"


def watched_apps(ctx: Context) -> list[str]:
    """Lower-cased names of the apps the app-keyed detectors judge."""
    configured = {name.lower() for name in ctx.config.apps}
    partner = {name for (name,) in ctx.con.execute(PARTNER_APPS_SQL).fetchall()}
    return sorted(configured | partner)


def trusted(ctx: Context, app: str | None, ip: str | None) -> bool:
    """Inside the configured app's allowlist or known egress."""
    config = ctx.config.app(app)
    if config is None or ip is None:
        return False
    listed = any(
        nets is not None and ip in nets for nets in (config.allowlist, config.known_egress)
    )
    return listed or ctx.known_egress.covers(ip, app)  # and what analysts recorded (incidents)


def network_key(ctx: Context, app: str | None, ip: str | None) -> str | None:
    """One key per network: the app's trusted set as a whole, else the /24 or /48."""
    if ip is None:
        return None
    return TRUSTED if trusted(ctx, app, ip) else network_of(ip)


# The partner log's `egress_ip` is empty when the partner's worker has no NAT address
# configured: the event's source IP is NULL. Unknown is never "off the allowlist", never a new
# network and never a link between alerts; the token chain is still judged.
UNKNOWN_EGRESS = "unknown (not configured)"


def ip_label(ip: str | None, *, partner: bool = True) -> str:
    """An event's source IP as text, or what an unknown one is: a partner-log call's egress not
    configured, or a Salesforce row without an address (`Salesforce.com IP`)."""
    if ip is not None:
        return ip
    return UNKNOWN_EGRESS if partner else "no IP"


def same_network(ctx: Context, app: str | None, first: str | None, later: str | None) -> bool:
    """Whether two calls came from one network; an unknown address is no evidence of another
    (the worker and outcome in the partner's log decide, as they do on one network)."""
    if first is None or later is None:
        return True
    return network_key(ctx, app, first) == network_key(ctx, app, later)


def known_ips(*ips: str | None) -> list[str]:
    """An alert's addresses: the known ones, sorted (an unknown egress links nothing)."""
    return sorted({ip for ip in ips if ip})


def shown_ip_sql(prefix: str = "e.") -> str:
    """SQL for an event's source IP as surfaces show it: a partner-log call without its NAT
    address says so instead of an empty cell."""
    return (
        f"coalesce({prefix}source_ip, CASE WHEN {prefix}event_type = 'token_exchange' "
        f"THEN '{UNKNOWN_EGRESS}' END)"
    )
