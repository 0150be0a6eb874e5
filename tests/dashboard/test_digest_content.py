"""The digest's content and rendering on a fixed data set: golden text, grouping, cap,
defanging, escaping, subject counts, pipeline health; no SMTP here."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard.digest import build, collect
from dashboard.digest.defang import clean, defang
from dashboard.digest.message import build_message, render_options
from dashboard.digest.render import render_html, render_text, subject
from ingest import config as config_module
from ingest.errors import ConfigError

from .digest_helpers import (
    CONFIG,
    NIGHT_1,
    add_pipeline_trouble,
    insert_alerts,
    night_one_alerts,
    night_two_alerts,
)

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture
def fixed_store(store):
    insert_alerts(store, night_one_alerts(), detected_at=NIGHT_1)
    add_pipeline_trouble(store, NIGHT_1)
    return store


@pytest.mark.parametrize(
    ("golden", "grouped"),
    [("digest.txt", True), ("digest-ungrouped.txt", False)],
    ids=["incidents", "lone-alerts"],
)
def test_plain_text_matches_the_golden_file(fixed_store, golden, grouped):
    if grouped:
        group_incidents(fixed_store, NIGHT_1)
    content = collect(fixed_store, CONFIG, now=NIGHT_1)
    text = render_text(content, render_options(CONFIG))
    path = GOLDEN_DIR / golden
    if os.environ.get("TOKENSENTRY_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"the text digest changed; if on purpose, rerun with TOKENSENTRY_UPDATE_GOLDEN=1 and "
        f"review the diff of tests/dashboard/golden/{golden}"
    )


def test_content_groups_by_severity_then_org_and_app(fixed_store):
    content = collect(fixed_store, CONFIG, now=NIGHT_1)
    assert [(g.severity, g.org_id, g.alerts[0].detector) for g in content.groups] == [
        ("critical", "00D5g000004XyZaEAK", "refresh_token_reuse"),
        ("high", "00D5g000004XyZaEAK", "off_allowlist_ip"),
        ("high", "00D5g000007PqRsEAK", "suspicious_client"),
        ("medium", "00D5g000007PqRsEAK", "new_network"),
    ]
    assert content.severity_counts() == {"critical": 1, "high": 2, "medium": 1}
    assert content.detector_counts == {
        "refresh_token_reuse": 1,
        "off_allowlist_ip": 1,
        "suspicious_client": 1,
        "new_network": 1,
    }


def test_pipeline_health_names_failed_unavailable_stale_and_quarantine(fixed_store):
    content = collect(fixed_store, CONFIG, now=NIGHT_1)
    problems = {(p.kind, p.unit) for p in content.problems}
    # One state per org × source, as `tokensentry health` and /pipeline give it: the failed
    # source is failed (its detail says when it last delivered), not also listed as stale.
    assert problems == {
        ("failed", "acme-prod/oauth_token"),
        ("incomplete", "acme-prod/event_log_file"),
        ("not available", "acme-prod/login_event"),
        ("retention gap", "acme-prod/login_history"),
    }
    assert content.quarantined == 2
    assert subject(content) == (
        "[tokensentry] 1 critical, 2 high, 1 medium, 4 pipeline problems, 2026-05-11"
    )


def test_a_source_that_recovered_is_neither_failed_nor_stale(fixed_store):
    fixed_store.execute(
        "INSERT INTO runs (run_id, stage, unit_id, org_id, started_at, status) "
        "VALUES ('r-late', 'ingest', 'acme-prod/oauth_token', NULL, ?, 'ok')",
        [NIGHT_1 - timedelta(minutes=30)],
    )
    content = collect(fixed_store, CONFIG, now=NIGHT_1)
    assert {p.kind for p in content.problems} == {"incomplete", "not available", "retention gap"}


def test_first_window_is_the_last_day_of_data_or_since(fixed_store):
    insert_alerts(fixed_store, night_two_alerts(), detected_at=NIGHT_1 + timedelta(days=1))
    day_two = collect(fixed_store, CONFIG, now=NIGHT_1 + timedelta(days=1))
    assert [a.alert_id for a in day_two.alerts if not a.carried_over] == ["b1travel00000000001"]
    carried = [a for a in day_two.alerts if a.carried_over]  # open, never mailed: still listed
    assert carried and {a.severity for a in carried} <= {"critical", "high", "medium"}
    everything = collect(
        fixed_store, CONFIG, now=NIGHT_1 + timedelta(days=1), since=NIGHT_1 - timedelta(days=2)
    )
    assert len(everything.alerts) == 5


def test_triaged_alerts_are_not_news(fixed_store):
    fixed_store.execute(
        "INSERT INTO triage (alert_id, status, note, analyst, updated_at) VALUES ('a2offallow000000002', 'false_positive', 'VPN', 'ana', ?)",
        [NIGHT_1],
    )
    content = collect(fixed_store, CONFIG, now=NIGHT_1)
    assert "a2offallow000000002" not in {a.alert_id for a in content.alerts}


def test_cap_per_severity_points_to_the_dashboard(store):
    many = [
        alert.__class__(**{**alert.__dict__, "alert_id": f"hi{n:017d}", "severity": "high"})
        for n, alert in enumerate(night_one_alerts() * 4)
    ]
    insert_alerts(store, many, detected_at=NIGHT_1)
    capped = config_module.parse(
        {"digest": {"dashboard_url": "https://ts.example.org", "max_per_severity": 3}},
        base_dir=Path("."),
    )
    content = collect(store, capped, now=NIGHT_1)
    text = render_text(content, render_options(capped))
    assert "== HIGH: 16 incident(s), 16 alert(s) ==" in text
    assert text.count("https://ts.example.org/alert?id=") == 3
    assert "... and 13 more alert(s) in the dashboard: https://ts.example.org/queue" in text
    assert "and 13 more alert(s) in the dashboard" in render_html(content, render_options(capped))


def test_both_parts_defang_and_the_html_escapes(fixed_store):
    content = collect(fixed_store, CONFIG, now=NIGHT_1)
    message = build_message(content, CONFIG, ("secops@example.org",))
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "https://evil" not in part and "evil.example.com" not in part
        assert "hxxps[:]//evil[.]example[.]com/x" in part
        assert "\u202e" not in part
        assert "opsexe[.]moc" in part
    assert "<b>Reports</b>" not in html
    assert "Globex &lt;b&gt;Reports&lt;/b&gt;" in html
    assert "<style" not in html and "<img" not in html and "<script" not in html
    assert 'href="https://tokensentry.example.org/alert?id=a1reuse000000000001"' in html
    assert message.get_content_type() == "multipart/alternative"


def test_message_id_follows_what_the_digest_covers(fixed_store):
    first = collect(fixed_store, CONFIG, now=NIGHT_1)
    later = collect(fixed_store, CONFIG, now=NIGHT_1 + timedelta(minutes=5))
    assert first.message_id("example.org") == later.message_id("example.org")
    fixed_store.execute(
        "UPDATE alerts SET severity = 'critical' WHERE alert_id = 'a4newnet00000000004'"
    )
    risen = collect(fixed_store, CONFIG, now=NIGHT_1)
    assert risen.message_id("example.org") != first.message_id("example.org")


def test_build_returns_the_message_the_next_run_would_send(fixed_store):
    message = build(fixed_store, CONFIG, now=NIGHT_1)
    assert message["Subject"].startswith("[tokensentry] 1 critical, 2 high")
    assert message["To"] == "secops@example.org"
    assert message["Message-ID"].endswith("@example.org>")


def test_defang_removes_controls_and_breaks_links():
    assert defang("see http://a.example.net/p") == "see hxxp[:]//a[.]example[.]net/p"
    assert defang("FTP://files.example.org") == "FxP[:]//files[.]example[.]org"
    assert defang("mail ana@acme.com now") == "mail ana@acme[.]com now"
    assert defang("203.0.113.9 and simple-salesforce/1.12.10") == (
        "203.0.113.9 and simple-salesforce/1.12.10"
    )
    assert clean("a\u202eb\u2066c\u200bd\x1b[31me\x00f\nnext") == "abcd[31mef next"
    assert defang("x" * 1000).endswith("…") and len(defang("x" * 1000)) == 300


def test_digest_config_refuses_credentials_in_clear_text():
    with pytest.raises(ConfigError, match="never sent over an unencrypted connection"):
        config_module.parse(
            {"digest": {"security": "none", "username": "u", "password": {"env": "P"}}},
            base_dir=Path("."),
        )
    with pytest.raises(ConfigError, match="max_per_severity"):
        config_module.parse({"digest": {"max_per_severity": 0}}, base_dir=Path("."))
    parsed = config_module.parse(
        {"digest": {"ca_bundle": "certs/relay.pem", "max_per_severity": 5}}, base_dir=Path("/etc")
    )
    assert parsed.digest.ca_bundle == Path("/etc/certs/relay.pem")
    assert parsed.digest.max_per_severity == 5


def group_incidents(con, now):
    from detect import egress, incidents

    incidents.update(con, CONFIG, egress.load(con, CONFIG, now), now=now)


def test_alerts_are_grouped_into_the_incidents_detect_computed(fixed_store):
    group_incidents(fixed_store, NIGHT_1)
    content = collect(fixed_store, CONFIG, now=NIGHT_1)
    shapes = [(g.severity, g.is_incident, [a.alert_id for a in g.alerts]) for g in content.groups]
    # Acme's two alerts share 185.220.101.33; Globex's two share 198.51.100.23.
    assert shapes == [
        ("critical", True, ["a1reuse000000000001", "a2offallow000000002"]),
        ("high", True, ["a3client00000000003", "a4newnet00000000004"]),
    ]
    text = " ".join(render_text(content, render_options(CONFIG)).split())
    assert "* Incident a1reuse000000000001: 2 new or changed of 2 alert(s)" in text
    assert "https://tokensentry.example.org/incident?id=a1reuse000000000001" in text
    html = render_html(content, render_options(CONFIG))
    assert 'href="https://tokensentry.example.org/incident?id=a3client00000000003"' in html


def test_an_alert_that_reopens_a_resolved_incident_is_reported_with_it(fixed_store):
    group_incidents(fixed_store, NIGHT_1)
    for alert_id in ("a1reuse000000000001", "a2offallow000000002"):
        fixed_store.execute(
            "INSERT INTO triage (alert_id, status, note, analyst, updated_at) VALUES (?, 'resolved', 'rotated', 'ana', ?)",
            [alert_id, NIGHT_1],
        )
    from .digest_helpers import FixedAlert

    later = NIGHT_1 + timedelta(hours=2)
    insert_alerts(
        fixed_store,
        [
            FixedAlert(
                "a5again00000000005", "off_allowlist_ip", "medium", "00D5g000004XyZaEAK",
                "Acme Sync", "Acme Sync refreshed from 185.220.101.33 again.",
                ("185.220.101.33",), later,
            )
        ],
        detected_at=later,
    )  # fmt: skip
    group_incidents(fixed_store, later)
    content = collect(fixed_store, CONFIG, now=later, since=later - timedelta(hours=1))
    (group,) = [g for g in content.groups if g.incident_id == "a1reuse000000000001"]
    assert all(a.carried_over for g in content.groups if g is not group for a in g.alerts)
    assert [a.alert_id for a in group.alerts] == ["a5again00000000005"]
    assert group.reopened and group.total_alerts == 3 and group.incident_severity == "critical"
    text = " ".join(render_text(content, render_options(CONFIG)).split())
    assert (
        "* Incident a1reuse000000000001: 1 new or changed of 3 alert(s), reopened after "
        "triage, critical overall" in text
    )


def _fixed(alert_id, detector, severity, org, first_seen):
    from .digest_helpers import FixedAlert

    return FixedAlert(alert_id, detector, severity, org, "Acme Sync", f"{detector} finding.",
                      ("185.220.101.33",), first_seen)  # fmt: skip


def _mail(con, content):
    from dashboard.digest import state

    attempt = state.begin(con, content, build_message(content, CONFIG, ("a@b.c",)), ("a@b.c",))
    state.mark_sent(con, attempt, content.now)


def test_open_incidents_no_digest_carried_are_mailed_whatever_their_age(store):
    """After the demo: critical incidents detected weeks before the newest event, one fresh
    low. The first digest lists the criticals beside the low, and never again once sent."""
    old = NIGHT_1 - timedelta(days=30)
    insert_alerts(store, [
        _fixed("oldcrit000000000001", "refresh_token_reuse", "critical", "00DA", old),
        _fixed("oldmed0000000000002", "new_network", "medium", "00DA", old),
        _fixed("oldlow0000000000003", "new_network", "low", "00DA", old),
        _fixed("oldfixed00000000004", "refresh_token_reuse", "critical", "00DA", old),
    ], detected_at=old)  # fmt: skip
    store.execute(
        "INSERT INTO triage VALUES ('oldfixed00000000004', 'resolved', NULL, 'ana', ?)", [old]
    )
    insert_alerts(store, [_fixed("fresh00000000000005", "new_network", "low", "00DA",
                                 NIGHT_1 - timedelta(hours=2))], detected_at=NIGHT_1)  # fmt: skip
    first = collect(store, CONFIG, now=NIGHT_1)
    listed = {a.alert_id: a.carried_over for a in first.alerts}
    assert listed == {"oldcrit000000000001": True, "oldmed0000000000002": True,
                      "fresh00000000000005": False}  # fmt: skip
    text = render_text(first, render_options(CONFIG))
    assert "never mailed" in text and "1 critical, 1 medium, 1 low" in text
    _mail(store, first)
    later = collect(store, CONFIG, now=NIGHT_1 + timedelta(days=1))
    assert later.alerts == []


def test_subject_counts_are_the_body_counts(store):
    insert_alerts(store, [
        _fixed("low00000000000000001", "new_network", "low", "00DA", NIGHT_1 - timedelta(hours=1)),
        _fixed("info0000000000000002", "dormant_wake", "info", "00DA",
               NIGHT_1 - timedelta(hours=1)),
    ], detected_at=NIGHT_1)  # fmt: skip
    content = collect(store, CONFIG, now=NIGHT_1)
    headline = render_text(content, render_options(CONFIG)).splitlines()[0]
    assert "1 low, 1 info" in subject(content) and headline.endswith(": 1 low, 1 info")


def test_cross_org_leads_its_severity(store):
    at = NIGHT_1 - timedelta(hours=1)
    insert_alerts(store, [
        _fixed("acrit000000000000001", "refresh_token_reuse", "critical", "00DA", at),
        _fixed("xcrit000000000000002", "cross_org", "critical", "00DZ", at),
    ], detected_at=NIGHT_1)  # fmt: skip
    content = collect(store, CONFIG, now=NIGHT_1)
    assert [g.alerts[0].detector for g in content.groups] == ["cross_org", "refresh_token_reuse"]


def test_alert_times_print_in_the_orgs_own_zone_to_the_second(fixed_store):
    """An org whose Organization row names its zone gets its alerts' times in it (with the
    zone's name); the others stay UTC. Never minutes only, never microseconds."""
    fixed_store.execute(
        "INSERT INTO raw_records VALUES ('00D5g000004XyZaEAK', 'soql:Organization', 'o1', NULL,"
        " '{\"TimeZoneSidKey\": \"Europe/Paris\"}', 'test', 'r', ?)",
        [NIGHT_1],
    )
    text = render_text(collect(fixed_store, CONFIG, now=NIGHT_1), render_options(CONFIG))
    assert "seen 2026-05-10 23:00:00 CEST to 2026-05-10 23:20:00 CEST" in text  # acme: Paris
    assert "seen 2026-05-10 22:00:00 UTC to 2026-05-10 22:20:00 UTC" in text  # globex: UTC
    assert not re.search(r"(?<![\d:])\d\d:\d\d(?!:\d\d)", text)  # no time to the minute
