"""Partner-side theft signals from the partner's token log beside Salesforce's Login ELF.

One subscriber org, one integration user per story. The partner egresses from two allowlisted
regions (us-1 on 203.0.113.5, eu-1 on 2001:db8:10::25); Salesforce's side is the Login event
log file, which names no app (attribution names it from the partner's own log). Each story is
written as the files the two sides keep and imported through the real normalizers.

On the code before this change: the chain-intact rejection raised nothing; a retry after a 5xx,
a retry after a timeout and a race between the two regions were all "theft" (high); possible
reuse from Salesforce's logs never fired for a partner in two regions; and a re-authorised
integration was a "dormant token woken up" (high).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from detect import runner
from detect.testing import config
from ingest.importer import import_paths
from ingest.sfid import to18

from ..conftest import FIXED_NOW
from .sf_files import login_row, oauth_tokens, partner_line, write_elf, write_partner_log

ORG15 = "00D5g000004XyZa"
ORG = to18(ORG15)
US, EU = "203.0.113.5", "2001:db8:10::25"
THIEF = "45.83.2.10"
STEP = timedelta(minutes=30)


@dataclass
class Story:
    """One user's files: the partner's log lines and Salesforce's Login ELF rows."""

    user15: str
    lines: list[dict] = field(default_factory=list)
    logins: list[dict] = field(default_factory=list)
    tip: int = 0

    @property
    def user(self) -> str:
        return to18(self.user15)

    def token(self, n: int) -> str:
        return f"{self.user15}-g{n}"

    def salesforce(self, at: datetime, ip: str, status: str = "LOGIN_NO_ERROR", **kw) -> None:
        key = f"{self.user15}-{len(self.logins)}"
        self.logins.append(login_row(at, ip, org15=ORG15, user15=self.user15, login_key=key,
                                     status=status, **kw))  # fmt: skip

    def call(self, at: datetime, ip: str, token: int | None, new: int | None, **kw) -> None:
        self.lines.append(partner_line(
            at, ip, org=ORG, user=self.user, token=self.token(token) if token is not None else None,
            new_token=self.token(new) if new is not None else None, **kw))  # fmt: skip

    def chain(self, start: datetime, links: int, first: int = 0) -> datetime:
        """Authorize, then refresh every 30 min alternating regions; both sides logged. Tokens
        are numbered from `first` (a new authorization issues new tokens)."""
        self.call(start, US, None, first, grant="authorization_code", worker="us-1")
        self.salesforce(start + timedelta(milliseconds=250), US, sub="oauthwebserver")
        at = start
        for n in range(links):
            at = start + STEP * (n + 1)
            ip, worker = (US, "us-1") if n % 2 else (EU, "eu-1")
            self.call(at, ip, first + n, first + n + 1, worker=worker)
            self.salesforce(at + timedelta(milliseconds=250), ip)
        self.tip = first + links
        return at

    def rejected(self, at: datetime, token: int, ip: str = US, **kw) -> None:
        self.call(at, ip, token, None, outcome="invalid_grant", worker="us-1",
                  error="expired access/refresh token", **kw)  # fmt: skip
        self.salesforce(at + timedelta(milliseconds=200), ip, status="LOGIN_OAUTH_INVALID_TOKEN")


def _stories() -> dict[str, Story]:
    day = datetime(2026, 11, 10, 6, 0, 0)
    stories = {}

    stolen = stories["stolen"] = Story("0055g00000StOlN")
    last = stolen.chain(day, 8)
    stolen.salesforce(last + timedelta(minutes=10), THIEF, agent="python-requests/2.32.4")
    stolen.rejected(last + STEP, stolen.tip)

    unseen = stories["unseen_thief"] = Story("0055g00000UnSeN")
    last = unseen.chain(day, 8)
    unseen.rejected(last + STEP, unseen.tip)

    idle = stories["idle"] = Story("0055g00000IdLeE")
    last = idle.chain(datetime(2026, 10, 1, 6), 4)
    idle.rejected(last + timedelta(days=35), idle.tip)

    race = stories["race"] = Story("0055g00000RaCeE")
    last = race.chain(day, 6)  # us-1 made the last link; eu-1 presents the same token too
    race.call(last + timedelta(milliseconds=150), EU, race.tip - 1, None, worker="eu-1",
              outcome="invalid_grant", error="expired access/refresh token")  # fmt: skip
    race.rejected(last + STEP, race.tip)

    retry = stories["retry_5xx"] = Story("0055g00000ReTrY")
    last = retry.chain(day, 6)
    retry.call(last + STEP, US, retry.tip, None, outcome="error", error="HTTP 503",
               worker="us-1")  # fmt: skip
    retry.call(last + STEP + timedelta(seconds=90), US, retry.tip, retry.tip + 1, worker="us-1")
    retry.salesforce(last + STEP + timedelta(seconds=90, milliseconds=250), US)

    timeout = stories["timeout"] = Story("0055g00000TiMeO")
    last = timeout.chain(day, 6)
    timeout.call(last + STEP, US, timeout.tip, None, outcome="error", error="read timed out",
                 worker="us-1")  # fmt: skip
    timeout.salesforce(last + STEP + timedelta(milliseconds=300), US)  # it did arrive
    timeout.rejected(last + STEP + timedelta(seconds=60), timeout.tip)

    reauth = stories["reauthorised"] = Story("0055g00000ReAuT")
    reauth.chain(datetime(2026, 8, 25, 6), 6)
    reauth.chain(
        datetime(2026, 11, 20, 6), 4, first=100
    )  # 80 days later the customer re-authorises
    return stories


def _salesforce_only(root: Path) -> list[Path]:
    """A user the partner's log does not cover: Salesforce's Login ELF and an OauthToken
    export only. Two allowlisted regions alternate, then a foreign refresh 40 s after the
    partner's, then the family is revoked."""
    story = Story("0055g00000SfOnL")
    start = datetime(2026, 11, 12, 0, 0, 5)
    for n in range(96):
        story.salesforce(start + STEP * n, US if n % 2 else EU)
    last = start + STEP * 95
    story.salesforce(last + timedelta(seconds=40), THIEF)
    story.salesforce(last + timedelta(minutes=6), EU, status="LOGIN_OAUTH_INVALID_TOKEN")
    created = datetime(2026, 11, 11)
    return [
        write_elf(root / "sfonly" / "Login.csv", "Login", story.logins),
        oauth_tokens(root / "sfonly" / "OauthToken.json",
                     [(story.user, "Acme Sync", created, last)]),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from ingest import db

    root = tmp_path_factory.mktemp("partner_theft")
    stories = _stories()
    files = [
        write_partner_log(root / "partner" / "token-exchange.jsonl",
                          [line for s in stories.values() for line in s.lines]),
        write_elf(root / "org" / "Login.csv", "Login",
                  [row for s in stories.values() for row in s.logins]),
        *_salesforce_only(root),
    ]  # fmt: skip
    con = db.memory()
    summary = import_paths(con, files, org_id=ORG, run_id="i1", now=lambda: FIXED_NOW)
    assert not summary.failed, [f.error for f in summary.files]
    runner.run(con, config(), run_id="d1", now=lambda: FIXED_NOW, rescan_all=True)
    alerts = {}
    for detector, severity, user, summary_text, evidence in con.execute(
        "SELECT detector_id, severity, user_id, summary, evidence FROM alerts"
    ).fetchall():
        alerts.setdefault(user, []).append(
            {
                "detector": detector,
                "severity": severity,
                "summary": summary_text,
                "evidence": json.loads(evidence),
            }
        )
    yield stories, alerts
    con.close()


def _of(world, name: str, detector: str) -> list[dict]:
    stories, alerts = world
    return [a for a in alerts.get(stories[name].user, []) if a["detector"] == detector]


def test_chain_intact_rejection_with_a_foreign_refresh_in_between_is_critical(world):
    [alert] = _of(world, "stolen", "chain_rejection")
    assert alert["severity"] == "critical"
    evidence = alert["evidence"]
    assert evidence["classification"] == "chain_intact_rejection"
    assert evidence["chain_length"] == 9  # the authorization and eight refreshes
    assert evidence["chain"][0]["grant"] in ("authorization_code", "refresh_token")
    assert evidence["gap_s"] == 30 * 60
    assert [s["ip"] for s in evidence["salesforce_side"]["foreign_successes"]] == [THIEF]
    assert evidence["salesforce_side"]["app_inferred"][0].startswith("token owner:")
    assert evidence["salesforce_side"]["failures"][0]["status"] == "Failed: Invalid Token"
    assert {c["check"] for c in evidence["ruled_out"]} >= {
        "partner_reuse", "idle_timeout", "token_cap", "salesforce_reason",
        "user_frozen_or_inactive", "password_reset", "revocation_logout", "setup_audit_trail",
    }  # fmt: skip
    assert not any(c["explains"] for c in evidence["ruled_out"])
    assert THIEF in alert["summary"]


def test_chain_intact_rejection_without_the_thiefs_side_is_high(world):
    [alert] = _of(world, "unseen_thief", "chain_rejection")
    assert alert["severity"] == "high"


def test_a_token_that_sat_past_the_idle_timeout_is_explained(world):
    [alert] = _of(world, "idle", "chain_rejection")
    assert alert["severity"] == "info"
    explained = [c["check"] for c in alert["evidence"]["ruled_out"] if c["explains"]]
    assert explained == ["idle_timeout"]


def test_a_race_between_two_allowlisted_regions_is_low_and_explains_the_rejection(world):
    [race] = _of(world, "race", "refresh_token_reuse")
    assert race["severity"] == "low" and race["evidence"]["classification"] == "race"
    assert race["evidence"]["same_network"] is True  # two regions, one allowlist
    assert {race["evidence"]["first"]["ip"], race["evidence"]["again"]["ip"]} == {US, EU}
    [rejection] = _of(world, "race", "chain_rejection")
    assert rejection["severity"] == "info"
    assert [c["check"] for c in rejection["evidence"]["ruled_out"] if c["explains"]] == [
        "partner_reuse"
    ]


def test_a_retry_after_a_5xx_is_one_use(world):
    [alert] = _of(world, "retry_5xx", "refresh_token_reuse")
    assert alert["severity"] == "info" and alert["evidence"]["classification"] == "retry"


def test_a_refused_retry_after_a_timeout_that_reached_salesforce_is_low(world):
    [alert] = _of(world, "timeout", "refresh_token_reuse")
    assert alert["severity"] == "low" and alert["evidence"]["classification"] == "retry"
    assert alert["evidence"]["first_call_reached_salesforce"] is True
    assert "own making" in alert["summary"]
    assert _of(world, "timeout", "chain_rejection") == []  # presented before: not intact


def test_reauthorising_starts_a_new_chain_not_a_dormant_wake(world):
    assert [a for a in _of(world, "reauthorised", "idle_token") if a["severity"] == "high"] == []


def test_possible_reuse_from_salesforce_logs_alone_covers_a_two_region_partner(world):
    _, alerts = world
    user = to18("0055g00000SfOnL")
    [alert] = [a for a in alerts[user] if a["detector"] == "refresh_token_reuse"]
    assert alert["severity"] == "medium"
    assert alert["evidence"]["classification"] == "possible_reuse"
    assert alert["evidence"]["inside_allowlist"] == [True, False]
    assert "app inferred" in alert["summary"]


def test_no_partner_behaviour_rises_to_medium(world):
    stories, alerts = world
    benign = ("idle", "race", "retry_5xx", "timeout", "reauthorised")
    loud = [
        (name, a["detector"], a["severity"])
        for name in benign
        for a in alerts.get(stories[name].user, [])
        if a["severity"] in ("medium", "high", "critical")
    ]
    assert loud == []


def test_the_thiefs_side_arriving_hours_later_raises_the_rejection_to_critical(tmp_path):
    """Hourly Login ELF files land 3-6 h late: the rejection is judged high first, and the
    same alert becomes critical when Salesforce's side of the gap arrives."""
    from ingest import db

    story = Story("0055g00000LaTeE")
    last = story.chain(datetime(2026, 11, 10, 6), 8)
    story.rejected(last + STEP, story.tip)
    thief = Story(story.user15)
    thief.salesforce(last + timedelta(minutes=10), THIEF)
    partner = write_partner_log(tmp_path / "token-exchange.jsonl", story.lines)
    early = write_elf(tmp_path / "Login-0600.csv", "Login", story.logins)
    late = write_elf(tmp_path / "Login-0700.csv", "Login", thief.logins)
    hour = [datetime(2026, 11, 10, 12)]

    def clock() -> datetime:
        return hour[0]

    with db.memory() as con:
        import_paths(con, [partner, early], org_id=ORG, run_id="i1", now=clock)
        hour[0] += timedelta(hours=1)
        runner.run(con, config(), run_id="d1", now=clock)
        first = con.execute(
            "SELECT alert_id, severity FROM alerts WHERE detector_id = 'chain_rejection'"
        ).fetchall()
        hour[0] += timedelta(hours=5)
        import_paths(con, [late], org_id=ORG, run_id="i2", now=clock)
        hour[0] += timedelta(hours=1)
        runner.run(con, config(), run_id="d2", now=clock)
        second = con.execute(
            "SELECT alert_id, severity FROM alerts WHERE detector_id = 'chain_rejection'"
        ).fetchall()
    assert [s for _, s in first] == ["high"]
    assert second == [(first[0][0], "critical")]
