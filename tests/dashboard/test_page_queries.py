"""The query modules behind the pages: planted rows in an in-memory store, exact answers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from dashboard import queries
from ingest.netlist import IpAllowlist

NOW = datetime(2026, 11, 29, 12, 0)


def event(con, event_id, *, at, ip, app="Acme Sync", org="00D000000000001AAA", **extra):
    columns = {
        "event_id": event_id, "org_id": org, "occurred_at": at, "event_type": "login",
        "grant_type": "refresh_token", "is_success": True, "user_id": "005000000000001AAA",
        "app_name": app, "source_ip": ip, "sources": ["test"], "first_run_id": "t",
        "ingested_at": at, "updated_at": at, **extra,
    }  # fmt: skip
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    con.execute(f"INSERT INTO events ({names}) VALUES ({marks})", list(columns.values()))


def run(con, unit, *, stage="ingest", status="ok", finished, org="00D000000000001AAA", error=None):
    con.execute(
        "INSERT INTO runs (run_id, stage, unit_id, org_id, started_at, finished_at, status, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [f"r-{unit}-{finished}", stage, unit, org, finished - timedelta(minutes=1), finished,
         status, error],
    )  # fmt: skip


def test_allowlist_fit_counts_ranges_and_addresses():
    fit = queries.allowlist_fit(["203.0.113.0/25", "198.51.100.7"])
    assert (fit["ranges"], fit["addresses"], fit["fits"], fit["problems"]) == (2, 129, True, [])
    assert list(fit["entries"]["salesforce"]) == ["taken", "taken"]
    too_many = queries.allowlist_fit([f"203.0.{i // 256}.{i % 256}" for i in range(129)])
    assert not too_many["fits"] and too_many["ranges"] == 129
    assert "129 ranges (Salesforce takes at most 128)" in too_many["problems"]
    assert too_many["entries"]["salesforce"].iloc[-1].startswith("refused: over the cap")
    wide = queries.allowlist_fit(["203.0.113.0/24", "198.51.100.1"])
    assert wide["addresses"] == 257 and not wide["fits"]
    assert list(wide["entries"]["salesforce"]) == [
        "taken",
        "refused: over the cap: with the 256 addresses before it the list would hold 257, "
        "more than 256",
    ]
    assert queries.allowlist_fit(["10.0.0.1 - 10.0.0.10"])["addresses"] == 10


def test_allowlist_counts_ipv6_with_ipv4_and_names_each_refusal():
    """256 addresses in all, IPv6 included: a /120 is the whole budget, a /64 is refused alone,
    a range across families cannot be typed, non-public space is taken but never matches."""
    entries = queries.allowlist_entries(
        ["2001:db8::/121", "203.0.113.0/26", "2001:db8:1::/64", "203.0.113.200 - 2001:db8::9",
         "10.1.0.0/30", "198.51.100.0/26", "203.0.113.9-203.0.113.1", "not an ip"]
    )  # fmt: skip
    verdicts = {entry.entry: entry for entry in entries}
    assert [e.refused is None for e in entries] == [
        True, True, False, False, True, False, False, False,
    ]  # fmt: skip
    assert verdicts["2001:db8::/121"].addresses == 128
    assert "too wide: 2^64 addresses" in verdicts["2001:db8:1::/64"].refused
    assert verdicts["203.0.113.200 - 2001:db8::9"].family == "mixed"
    assert "one family" in verdicts["203.0.113.200 - 2001:db8::9"].refused
    assert verdicts["198.51.100.0/26"].refused == (
        "over the cap: with the 196 addresses before it the list would hold 260, more than 256"
    )
    assert "private space (10.0.0.0/8)" in verdicts["10.1.0.0/30"].never_matches
    assert verdicts["10.1.0.0/30"].refused is None  # the help page does not refuse it
    assert verdicts["203.0.113.9-203.0.113.1"].refused == "end is before start"
    fit = queries.allowlist_fit(["2001:db8::/121", "203.0.113.0/26", "2001:db8:1::/64"])
    assert fit["addresses"] == 2**64 + 192 and not fit["fits"]
    assert fit["problems"] == [
        "2^64 addresses (Salesforce takes at most 256)",
        "2001:db8:1::/64: too wide: 2^64 addresses in one range, and Salesforce takes 256 in "
        "all, IPv6 included",
    ]


def test_demo_allowlists_are_ones_salesforce_takes():
    """The demo's, the live tests' and the scenario's allowlists could all be entered."""
    from sandbox.demo.cast import ALLOWLIST as DEMO
    from sandbox.scenario.fleet import ALLOWLIST as SCENARIO
    from sandbox.trio import ALLOWLIST as TRIO

    for allowlist in (DEMO, TRIO, SCENARIO):
        fit = queries.allowlist_fit(allowlist)
        assert fit["fits"] and not fit["warnings"], (allowlist, fit["problems"])


def test_egress_seen_is_judged_against_allowlist_and_known_egress(store):
    for i, ip in enumerate(["203.0.113.5", "203.0.113.5", "192.0.2.9", "198.51.100.20"]):
        event(store, f"e{i}", at=NOW - timedelta(hours=i), ip=ip, is_success=i != 2)
    event(store, "other", at=NOW, ip="192.0.2.9", app="Other App")
    event(store, "old", at=NOW - timedelta(days=90), ip="192.0.2.200")
    window = queries.Filters(start=NOW - timedelta(days=30), end=NOW)
    seen = queries.egress_ips(store, window)
    assert "192.0.2.200" not in set(seen["ip"])  # outside the window
    judge = queries.EgressJudge.build(
        {"Acme Sync": IpAllowlist.parse(["203.0.113.0/28"]), "Other App": None},
        [("acme sync", "198.51.100.0/24")],
    )
    marked = judge.mark(seen).set_index(["app", "ip"])
    assert marked.loc[("Acme Sync", "203.0.113.5"), "uses"] == 2
    assert marked.loc[("Acme Sync", "203.0.113.5"), "inside_allowlist"]
    assert marked.loc[("Acme Sync", "198.51.100.20"), "known_egress"]
    assert not marked.loc[("Acme Sync", "198.51.100.20"), "outside"]
    assert marked.loc[("Acme Sync", "192.0.2.9"), "outside"]
    assert marked.loc[("Acme Sync", "192.0.2.9"), "failures"] == 1
    # An app without an allowlist has no "outside": there is nothing to be outside of.
    assert not marked.loc[("Other App", "192.0.2.9"), "outside"]


def test_health_judges_each_org_source_on_its_own_cadence(store):
    run(store, "acme/login_history", finished=NOW - timedelta(hours=2))
    run(store, "acme/login_event", finished=NOW - timedelta(hours=27))
    run(store, "acme/oauth_token", finished=NOW - timedelta(hours=27))
    run(store, "acme/oauth_token", status="failed", finished=NOW - timedelta(hours=1), error="x")
    run(store, "acme/event_log_file", status="not_available", finished=NOW, error="no licence")
    for weeks in (1, 2, 3):  # a weekly export, last delivered 5 days ago
        run(store, "acme/weekly", finished=NOW - timedelta(days=5 + 7 * (weeks - 1)))
    health = queries.pipeline_health(store, NOW).set_index("source")
    assert health.loc["login_history", "state"] == "ok"
    assert health.loc["login_event", "state"] == "stale"  # no history: one night + 2 h
    assert health.loc["oauth_token", "state"] == "failed"
    assert health.loc["oauth_token", "age_text"] == "1 d 3 h"
    assert health.loc["event_log_file", "state"] == "not available"
    assert health.loc["weekly", "state"] == "ok"  # not stale after 26 h: its cadence is 7 d
    assert (health.loc["weekly", "cadence_from"], health.loc["weekly", "cadence_text"]) == (
        "learned", "7 d 0 h",
    )  # fmt: skip
    assert list(health["state"])[:2] == ["failed", "stale"]  # worst first
    unavailable = queries.unavailable_sources(store)
    assert unavailable[["source", "reason"]].values.tolist() == [["event_log_file", "no licence"]]


def test_durations_print_humanly():
    assert queries.duration_text(timedelta(hours=720, minutes=48)) == "30 d 0 h"
    assert queries.duration_text(timedelta(hours=5, minutes=12)) == "5 h 12 min"
    assert queries.duration_text(timedelta(minutes=3)) == "3 min"
    assert queries.duration_text(None) == ""


def test_retention_gaps_degrade_to_empty_without_the_table(store):
    assert queries.retention_gaps(store).empty


def test_tokens_idle_age_at_each_orgs_latest_snapshot(store):
    for user, idle_days in (("u_active", 3), ("u_due", 26), ("u_expired", 40)):
        event(
            store, f"t-{user}", at=NOW - timedelta(days=idle_days), ip=None,
            event_type="token_usage", user_id=user, use_count=5,
            token_created_at=NOW - timedelta(days=100), ingested_at=NOW,
        )  # fmt: skip
    # Another org's export stopped 60 days ago: measured at its own snapshot, nothing expires.
    event(
        store, "t-old", at=NOW - timedelta(days=61), ip=None, org="00D000000000002AAA",
        event_type="token_usage", user_id="u_old", use_count=5,
        token_created_at=NOW - timedelta(days=100), ingested_at=NOW - timedelta(days=60),
    )  # fmt: skip
    tokens = queries.refresh_tokens(store).set_index("user_id")
    assert tokens.loc["u_active", "state"] == "active"
    assert tokens.loc["u_due", "state"] == "heartbeat due"
    assert tokens.loc["u_expired", "state"] == "expired"
    assert tokens.loc["u_expired", "idle_days"] == 40.0
    assert tokens.loc["u_expired", "idle"] == "40 d 0 h"
    assert tokens.loc["u_old", "state"] == "active"
    states = queries.token_states(tokens.reset_index())
    assert states["tokens"].sum() == 4


def test_search_finds_an_ip_or_a_user_across_orgs(store):
    event(store, "a", at=NOW, ip="192.0.2.9", org="00D000000000001AAA")
    event(store, "b", at=NOW, ip="192.0.2.9", org="00D000000000002AAA", username="eve@x.example")
    assert queries.search_kind("192.0.2.9") == "ip"
    assert queries.search_kind("eve") == "text"
    per_org = queries.search_summary(store, " 192.0.2.9 ")
    assert sorted(per_org["org_id"]) == ["00D000000000001AAA", "00D000000000002AAA"]
    assert queries.search_events(store, "EVE@x")["org_id"].tolist() == ["00D000000000002AAA"]
    assert queries.search_events(store, "100%").empty  # LIKE wildcards are literal


def test_travel_jumps_join_consecutive_places():
    places = pd.DataFrame(
        {
            "ip": ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
            "country": ["US", "NL", "NL"],
            "city": ["Boston", "Amsterdam", "Amsterdam"],
            "latitude": [42.36, 52.37, 52.37],
            "longitude": [-71.06, 4.89, 4.89],
            "first_seen": [NOW, NOW + timedelta(minutes=30), NOW + timedelta(hours=1)],
            "last_seen": [NOW, NOW + timedelta(minutes=40), NOW + timedelta(hours=1)],
        }
    )
    jumps = queries.travel_jumps(places)
    assert jumps[["from_ip", "to_ip"]].values.tolist() == [["192.0.2.1", "192.0.2.2"]]
    assert jumps.loc[0, "source"] == [-71.06, 42.36]


@pytest.mark.parametrize(
    ("headers", "header", "expected"),
    [
        ({"X-Forwarded-User": " ada@corp.example "}, "x-forwarded-user", "ada@corp.example"),
        ({"X-Forwarded-User": ""}, "X-Forwarded-User", None),
        ({"Other": "bo"}, "X-Forwarded-User", None),
        ({"X-Forwarded-User": "ada"}, None, None),
    ],
)
def test_analyst_comes_from_the_sso_proxy_header_when_configured(headers, header, expected):
    from dashboard.web.ui import analyst_from_headers

    assert analyst_from_headers(headers, header) == expected


def test_markdown_labels_show_markup_literally():
    from dashboard.web.safe_text import md

    assert md("**b** [l](http://e) <img>") == "` **b** [l](http://e) <img> `"  # a code span


def test_a_user_header_sent_twice_names_no_one():
    """A client that reaches the port adds its own X-Forwarded-User next to the proxy's: the
    headers as Streamlit gives them (st.context.headers, from the real handshake's pairs)
    keep both, and neither is believed."""
    from starlette.datastructures import Headers
    from streamlit.runtime.context import StreamlitHeaders

    from dashboard.web.ui import analyst_from_headers, header_problem

    raw = [(b"x-forwarded-user", b"mallory"), (b"X-Forwarded-User", b"ada@corp.example")]
    twice = StreamlitHeaders(Headers(raw=raw).items())
    assert twice.get_all("x-forwarded-user") == ["mallory", "ada@corp.example"]
    assert analyst_from_headers(twice, "X-Forwarded-User") is None
    assert "sent 2 times: refused" in header_problem(twice, "X-Forwarded-User")
    once = StreamlitHeaders(Headers(raw=raw[1:]).items())
    assert analyst_from_headers(once, "x-forwarded-user") == "ada@corp.example"
