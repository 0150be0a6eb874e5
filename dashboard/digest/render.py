"""The digest's two parts, plain text and HTML, from one `DigestContent` and two templates.

Jinja2 autoescapes the HTML template, so an app named `<script>` is text there; both templates
pass every attacker-controlled string through the `d` (defang) filter first. Our own links
(dashboard_url + ids we generate) are the only URLs in the mail.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import jinja2

from .. import timefmt
from ..queries.digest import SEVERITIES
from .content import DigestContent, DigestGroup
from .defang import defang

SEVERITY_COLOURS = {
    "critical": "#9b1c1c",
    "high": "#c53030",
    "medium": "#b7791f",
    "low": "#2b6cb0",
    "info": "#4a5568",
}
TEXT_WIDTH = 72  # reads without reflow in a narrow mail client and in cron mail


@dataclass(frozen=True)
class Section:
    severity: str
    groups: tuple[DigestGroup, ...]
    alert_count: int
    group_count: int
    hidden: int  # alerts of this severity left out by the cap


@dataclass(frozen=True)
class RenderOptions:
    dashboard_url: str | None
    max_per_severity: int
    org_labels: dict[str, str]  # org id -> configured alias, trusted (it is our own config)


def subject(content: DigestContent) -> str:
    """`[tokensentry] 2 critical, 5 high, 2026-05-12`: what matters, readable in a list."""
    parts = [content.counts_text() or "all clear"]  # the body's headline prints the same
    problems = len(content.problems)
    if problems:
        parts.append(f"{problems} pipeline problem{'s' if problems > 1 else ''}")
    prefix = "[tokensentry] PARTIAL " if content.partial else "[tokensentry] "
    return f"{prefix}{', '.join(parts)}, {content.now:%Y-%m-%d}"


def sections(content: DigestContent, cap: int) -> list[Section]:
    """Groups per severity, at most `cap` groups each; the rest become "and N more"."""
    result = []
    for severity in SEVERITIES:
        groups = [g for g in content.groups if g.severity == severity]
        if not groups:
            continue
        shown = tuple(groups[:cap])
        total = sum(len(g.alerts) for g in groups)
        hidden = total - sum(len(g.alerts) for g in shown)
        result.append(Section(severity, shown, total, len(groups), hidden))
    return result


def render_text(content: DigestContent, options: RenderOptions) -> str:
    return _environment(html=False).get_template("digest.txt").render(**_context(content, options))


def render_html(content: DigestContent, options: RenderOptions) -> str:
    return _environment(html=True).get_template("digest.html").render(**_context(content, options))


def _context(content: DigestContent, options: RenderOptions) -> dict[str, object]:
    base = (options.dashboard_url or "").rstrip("/")

    def scope(group: DigestGroup) -> str:
        org = group.org_id or "several orgs"
        label = options.org_labels.get(group.org_id or "")
        org_text = f"org {label} ({org})" if label else f"org {defang(org)}"
        return f"{org_text}, app {defang(group.app) if group.app else 'unknown'}"

    def incident_line(group: DigestGroup) -> str:
        """What changed in the incident: how many of its alerts are news, whether a new alert
        reopened it after triage, and its overall severity when that is higher."""
        parts = [f"{len(group.alerts)} new or changed of {group.total_alerts} alert(s)"]
        if group.reopened:
            parts.append("reopened after triage")
        if group.incident_severity and group.incident_severity != group.severity:
            parts.append(f"{group.incident_severity} overall")
        return ", ".join(parts)

    summary = content.counts_text() or "no new alerts"
    return {
        "content": content,
        "sections": sections(content, options.max_per_severity),
        "subject": subject(content),
        "headline": f"tokensentry digest, {content.now:%Y-%m-%d} (UTC): {summary}",
        "since": _since_text(content),
        "intro": (
            f"Alerts new or changed {_since_text(content)}, grouped by incident, most severe "
            "first."
            + (
                f" Also {content.carried_over} older open alert(s) at medium or above that no "
                'digest carried yet, marked "never mailed".'
                if content.carried_over
                else ""
            )
            + (" Resent on request." if content.resend else "")
        ),
        "partial_reason": (
            "a pipeline stage failed tonight (see Pipeline health); the alerts below are "
            "what detection found in the data it had."
        ),
        "links": bool(base),
        "dashboard_url": base,
        "queue_link": f"{base}/queue",
        "alert_link": lambda alert: f"{base}/alert?id={quote(alert.alert_id, safe='')}",
        "incident_link": lambda group: f"{base}/incident?id={quote(group.incident_id, safe='')}",
        "scope": scope,
        # The user by name when a source named them (the id stays in the summary).
        "who": lambda alert: (
            defang(alert.username) + (f" ({defang(alert.user_id)})" if alert.user_id else "")
            if alert.username
            else ""
        ),
        "seen": lambda alert: (
            f"seen {_org_time(content, alert.org_id, alert.first_seen)} to "
            f"{_org_time(content, alert.org_id, alert.last_seen)}, "
            f"{alert.event_count} event(s)"
            + (f", {alert.status}" if alert.status != "new" else "")
            + (", still open from before this window, never mailed" if alert.carried_over else "")
        ),
        "incident_line": incident_line,
        "colours": SEVERITY_COLOURS,
    }


def _since_text(content: DigestContent) -> str:
    if content.previous_sent_at is not None and not content.explicit_since:
        return f"since the last digest ({timefmt.shown(content.previous_sent_at)})"
    return f"since {timefmt.shown(content.covers_since)}"


def _environment(*, html: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("dashboard.digest", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["d"] = defang
    environment.filters["when"] = _when
    environment.filters["ips"] = lambda ips: ", ".join(defang(ip) for ip in ips) or "none"
    environment.filters["para"] = _paragraph
    return environment


def _when(moment: datetime) -> str:
    return timefmt.shown(moment)


def _org_time(content: DigestContent, org_id: str, moment: datetime) -> str:
    """An alert's time in its org's own zone (Organization.TimeZoneSidKey), else UTC."""
    return timefmt.shown(moment, content.time_zones.get(org_id))


def _paragraph(text: str, first_indent: int, indent: int) -> str:
    """A text-part paragraph wrapped at TEXT_WIDTH, its first line indented by `first_indent`
    and the rest by `indent`; a URL or other long word is never split."""
    lines = textwrap.wrap(
        text,
        width=TEXT_WIDTH,
        initial_indent=" " * first_indent,
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines)
