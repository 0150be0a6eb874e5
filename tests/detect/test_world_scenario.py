"""The adversarial world (`ingest.world`) through the real importer and every detector.

Five subscriber orgs of one partner app for four weeks, in Salesforce's own formats: two orgs
as LoginHistory JSON with LoginGeo, three as event log files whose Login rows carry no app
name, OauthToken snapshots for all, and the partner's token log. The files are imported one by
one at their delivery times, in the order they arrive and in reverse (every late file lands
before what preceded it); then `detect --all`. Every planted attack must raise its detector's
alert at its severity; nothing benign may reach medium.
"""

from __future__ import annotations

import json

import pytest

from ingest.world.fleet import BY_ALIAS
from ingest.world.traps import scenario

from .world_judge import footprint, found, run_world, score

ORDERS = ["delivered", "reversed"]


@pytest.fixture(scope="module", params=ORDERS)
def world_run(request, tmp_path_factory):
    return run_world(tmp_path_factory.mktemp(f"world-{request.param}"), request.param)


def _attacks():
    return scenario().attacks  # the plan alone, without writing files


# The other half of issue 8 (branch `attribution`, item 3): its chain_rejection explains this
# wave's rejection by the partner's own 503 retry in the same chain seventeen days earlier; a
# retry is one use, and a reuse that revoked nothing cannot explain a later rejection.
ATTRIBUTION_GAPS = {("chain_rejection", "vendor-compromise wave: charlie")}


def _attack_params():
    params = []
    for attack in _attacks():
        marks = ()
        if (attack.detector, attack.label) in ATTRIBUTION_GAPS:
            marks = pytest.mark.xfail(strict=True, reason="branch attribution: chain_rejection "
                                      "counts a 503 retry as a family-revoking reuse")  # fmt: skip
        params.append(pytest.param(attack, marks=marks,
                                   id=f"{attack.detector}-{attack.severity}: {attack.label}"))  # fmt: skip
    return params


@pytest.mark.parametrize("attack", _attack_params())
def test_every_planted_attack_raises_its_alert_at_its_severity(world_run, attack):
    _, alerts = world_run
    hits = found(alerts, attack)
    assert any(a.severity == attack.severity for a in hits), [(a.severity, a.summary) for a in hits]


def test_nothing_benign_reaches_medium(world_run):
    """Every alert at medium or more belongs to a planted attack; none is about a trap alone."""
    world, alerts = world_run
    stray = [a for a in alerts if a.loud and not any(footprint(a, x) for x in world.attacks)]
    by_trap = {t.label: [a.summary for a in stray if footprint(a, t)] for t in world.benign}
    assert stray == [], by_trap


def test_every_benign_class_is_present_in_the_world(world_run):
    world, alerts = world_run
    labels = {t.label for t in world.benign}
    assert {"the partner's own workers racing across two regions", "a worker retrying after a 503",
            "a worker retrying after a timeout whose first call got through",
            "country-centroid and radius-less fixes next to an office login",
            "a flight to New York", "people's phones on carrier networks",
            "the integration's backfill night", "Salesforce's own Data Loader",
            "three allowlisted regions taking turns"} <= labels  # fmt: skip
    # The traps did happen: the race and the retries reached the reuse detector, quietly.
    quiet = [a for a in alerts if a.detector == "refresh_token_reuse" and not a.loud]
    assert quiet, "the partner's own reuses left no trace at all"


def test_theft_in_orgs_whose_logs_name_no_app_is_judged_on_the_inferred_app(world_run):
    world, alerts = world_run
    [theft] = [x for x in world.attacks if x.detector == "off_allowlist_ip"
               and x.org_id == BY_ALIAS["echo"].org18]  # fmt: skip
    [alert] = [a for a in found(alerts, theft) if a.severity == "high"]
    assert "inferred" in alert.summary


def test_an_unusual_day_is_medium_only_when_another_detector_seconds_it(world_run):
    _, alerts = world_run
    for alert in alerts:
        if alert.detector == "anomaly_score" and alert.loud:
            assert json.loads(alert.evidence)["corroborated_by"], alert.summary


def test_a_token_source_that_stopped_delivering_expires_nothing(world_run):
    """echo's OauthToken snapshots stop after the first week: its idle tokens are judged as of
    that snapshot (heartbeat due at most), never expired by the passing of time."""
    _, alerts = world_run
    echo = BY_ALIAS["echo"].org18
    states = [json.loads(a.evidence)["state"] for a in alerts
              if a.detector == "idle_token" and a.org_id == echo]  # fmt: skip
    assert "expired" not in states


def test_precision_and_recall(world_run):
    world, alerts = world_run
    result = score(world, alerts)
    assert result["precision"] == 1.0, result["false_positives"]
    assert len(result["missed"]) <= len(ATTRIBUTION_GAPS), result["missed"]
