"""The partner's refresh helper against the fake Salesforce over real HTTPS, rotation on."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from ingest.refresh_helper import (
    ConfigurationError,
    ExchangeLog,
    FileTokenStore,
    MemoryTokenStore,
    ReauthorizationRequired,
    RefreshHelper,
    ThreadRefreshLock,
    TokenEndpointError,
    challenge,
    egress_address,
    new_verifier,
)

from .refresh_checks import MEDIUM_OR_ABOVE, assert_no_secret
from .refresh_support import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    EGRESS,
    FP_KEY,
    KEY,
    ORG_ID,
    USER_ID,
    authorize,
    client,
    helper,
    judge,
    read_log,
)

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("fp_key")  # the helper refuses to start without it


# -- the import itself stays light ------------------------------------------------------------------


def test_importing_the_helper_loads_no_heavy_library():
    code = (
        "import sys, ingest.refresh_helper\n"
        "heavy = {'duckdb', 'streamlit', 'pandas', 'sklearn', 'numpy', 'detect', 'dashboard',"
        " 'sandbox'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
        "print(sorted(m for m in sys.modules if m.startswith('ingest')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)  # fmt: skip
    loaded, ingest_modules = out.stdout.splitlines()
    assert loaded == "[]"
    assert all(m.startswith("ingest.refresh_helper") for m in eval(ingest_modules)[1:])


def test_the_helper_imports_the_standard_library_and_requests_only():
    for path in (REPO / "ingest" / "refresh_helper").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "requests", (path.name, name)


# -- fingerprints, egress, PKCE -----------------------------------------------------------------------


def test_fingerprint_is_a_keyed_hmac_never_the_token(tmp_path):
    token = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJ"
    log = ExchangeLog(tmp_path / "l.jsonl", egress_ip=EGRESS)
    fp = log.fingerprint(token)
    assert fp == hmac.new(FP_KEY.encode(), token.encode(), hashlib.sha256).hexdigest()
    assert fp != token and token not in fp and fp not in token
    other = ExchangeLog(tmp_path / "other.jsonl", egress_ip="198.51.100.7", worker="w2")
    assert other.fingerprint(token) == fp  # every worker of the partner names it alike
    assert fp != hashlib.sha256(token.encode()).hexdigest()  # keyed, not a bare hash


def test_the_fingerprint_key_is_required(monkeypatch, tmp_path):
    monkeypatch.delenv("TOKENSENTRY_FP_KEY")
    with pytest.raises(ConfigurationError, match="TOKENSENTRY_FP_KEY"):
        ExchangeLog(tmp_path / "l.jsonl", egress_ip=EGRESS)
    monkeypatch.setenv("TOKENSENTRY_FP_KEY", "short")
    with pytest.raises(ConfigurationError):
        ExchangeLog(tmp_path / "l.jsonl", egress_ip=EGRESS)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.9", "172.31.255.1", "192.168.1.20", "169.254.0.7",
     "100.64.3.1", "0.0.0.0", "::1", "fd12:3456::1", "fe80::1", "::ffff:10.0.0.1", "::"],
)  # fmt: skip
def test_egress_ip_is_never_a_local_or_private_address(address, tmp_path):
    with pytest.raises(ConfigurationError, match="local or private"):
        ExchangeLog(tmp_path / "l.jsonl", egress_ip=address)


def test_unknown_egress_is_logged_empty_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="cannot judge the network"):
        log = ExchangeLog(tmp_path / "l.jsonl")
    line = log.write(sent_at=0.0, key_org=ORG_ID, key_user=USER_ID, app="A",
                     grant_type="client_credentials", outcome="success")  # fmt: skip
    assert line["egress_ip"] == "" and json.loads((tmp_path / "l.jsonl").read_text()) == line


def test_egress_ip_public_or_empty():
    assert egress_address("203.0.113.5") == "203.0.113.5"
    assert egress_address("2001:db8:10::25") == "2001:db8:10::25"
    assert egress_address("::ffff:198.51.100.7") == "198.51.100.7"
    assert egress_address("") == "" and egress_address(None) == ""
    with pytest.raises(ConfigurationError, match="not an IP"):
        egress_address("nat.partner.example")


def test_pkce_verifier_and_challenge_follow_rfc7636():
    # RFC 7636 Appendix B's worked example.
    assert (challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
            == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")  # fmt: skip
    verifiers = {new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for verifier in verifiers:
        assert 43 <= len(verifier) <= 128 and set(verifier) <= alphabet
        assert "=" not in challenge(verifier) and len(challenge(verifier)) == 43
    assert len(new_verifier(43)) == 43 and len(new_verifier(128)) == 128
    with pytest.raises(ValueError):
        new_verifier(42)


def test_authorization_sends_s256_challenge_and_the_fake_checks_the_verifier(fake, tmp_path):
    h = helper(fake.url, str(fake.ca_path), tmp_path / "store", tmp_path / "l.jsonl")
    started = h.begin_authorization(state="s", login_hint="sync@acme.example")
    query = urlparse(started.url).query
    assert "code_challenge_method=S256" in query
    assert f"code_challenge={challenge(started.verifier)}" in query
    assert started.verifier not in started.url and started.verifier not in repr(started)
    answer = requests.get(started.url, allow_redirects=False, verify=fake.ca_path, timeout=10)
    code = parse_qs(urlparse(answer.headers["Location"]).query)
    wrong = type(started)(started.url, started.state, new_verifier())
    with pytest.raises(TokenEndpointError, match="invalid code verifier") as refused:
        h.complete_authorization(wrong, code["code"][0], "s", KEY)
    assert wrong.verifier not in str(refused.value)
    session = h.complete_authorization(started, code["code"][0], "s", KEY)
    with pytest.raises(TokenEndpointError, match="invalid authorization code"):
        h.complete_authorization(started, code["code"][0], "s", KEY)  # single-use
    lines = read_log(tmp_path / "l.jsonl")
    assert [(line["outcome"], line["pkce"]) for line in lines] == [
        ("invalid_grant", True), ("success", True), ("invalid_grant", True)]  # fmt: skip
    assert lines[1]["grant_type"] == "authorization_code" and lines[1]["new_token_fp"]
    revoked = requests.get(
        f"{fake.url}/services/data/v62.0/limits",
        verify=fake.ca_path,
        headers={"Authorization": f"Bearer {session.access_token}"},
        timeout=10,
    )
    assert revoked.status_code == 401  # the reused code revoked what it had issued
    assert fake.oauth.current_refresh_token(ORG_ID, USER_ID) is None


# -- the exchange ----------------------------------------------------------------------------------


def test_store_file_is_0600_in_a_0700_folder(setup):
    _, folder, _ = setup
    files = list(folder.glob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_5xx_is_retried_with_the_same_token(setup, fake):
    h, _, log = setup
    before = fake.oauth.current_refresh_token(ORG_ID, USER_ID)
    fake.oauth.faults.unavailable_next = 2
    h.access_token(KEY, stale=h.access_token(KEY).access_token)
    refreshes = [e for e in fake.oauth.exchanges if e.grant == "refresh_token"]
    assert [e.outcome for e in refreshes] == ["unavailable", "unavailable", "success"]
    assert {e.presented for e in refreshes} == {before}
    lines = [line for line in read_log(log) if line["grant_type"] == "refresh_token"]
    assert [(line["outcome"], line["error_description"]) for line in lines] == [
        ("error", "HTTP 503 (no token)"), ("error", "HTTP 503 (no token)"), ("success", None)]  # fmt: skip
    assert len({line["token_fp"] for line in lines}) == 1 and lines[-1]["new_token_fp"]
    assert fake.oauth.current_refresh_token(ORG_ID, USER_ID) != before


def test_unreachable_endpoint_keeps_the_token_and_says_try_later(setup, fake):
    h, folder, log = setup
    before = FileTokenStore(folder).load(KEY)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    h.client = client(f"https://127.0.0.1:{port}", str(fake.ca_path))
    h.retries = 2
    with pytest.raises(TokenEndpointError, match="try again later") as failed:
        h.access_token(KEY, stale=before.access_token)
    assert_no_secret(str(failed.value), fake)
    lines = [line for line in read_log(log) if line["grant_type"] == "refresh_token"]
    assert [line["error_description"][:9] for line in lines] == ["not sent:"] * 3
    after = FileTokenStore(folder).load(KEY)
    assert after.refresh_token == before.refresh_token and after.in_flight is None
    assert fake.oauth.is_live(after.refresh_token)


def test_lost_answer_is_logged_as_a_retry_and_requires_reauthorization(setup, fake, tmp_path):
    h, _, log = setup
    h.timeout_s = (5.0, 0.5)
    fake.oauth.faults.late_answer_next, fake.oauth.faults.late_answer_s = 1, 2.0
    old = h.access_token(KEY).access_token
    with pytest.raises(ReauthorizationRequired, match="re-authorize the user") as lost:
        h.access_token(KEY, stale=old)
    assert_no_secret(str(lost.value), fake)
    lines = [line for line in read_log(log) if line["grant_type"] == "refresh_token"]
    assert [line["outcome"] for line in lines] == ["error", "invalid_grant"]
    assert lines[0]["error_description"].startswith("answer lost after sending")
    assert lines[0]["token_fp"] == lines[1]["token_fp"]  # the retry, logged as one
    # Salesforce saw the rotation and then the spent token: the family is gone.
    assert [e.outcome for e in fake.oauth.exchanges if e.grant == "refresh_token"] == [
        "success", "invalid_grant"]  # fmt: skip
    assert fake.oauth.current_refresh_token(ORG_ID, USER_ID) is None
    seen = len(fake.oauth.exchanges)
    with pytest.raises(ReauthorizationRequired):  # no more calls with a dead token
        h.access_token(KEY, stale=old)
    assert len(fake.oauth.exchanges) == seen
    time.sleep(2.0)  # the late answer's thread finishes
    report, alerts = judge(log, tmp_path)
    assert report["totals"]["rows_quarantined"] == 0
    reuse = [a for a in alerts if a["detector"] == "refresh_token_reuse"]
    assert [a["evidence"]["classification"] for a in reuse] == ["retry"]
    assert not [a for a in alerts if a["severity"] in MEDIUM_OR_ABOVE], alerts
    assert_no_secret(log.read_text(), fake)


def test_expired_session_and_access_token_age_refresh(setup, fake):
    h, _, log = setup
    fake.orgs[0].faults.expire_session_on = {1}
    assert h.request(KEY, "GET", "/services/data/v62.0/limits").status_code == 200
    h.max_access_age_s = 0.2
    time.sleep(0.3)
    assert h.request(KEY, "GET", "/services/data/v62.0/limits").status_code == 200
    grants = [line["grant_type"] for line in read_log(log)]
    assert grants == ["authorization_code", "refresh_token", "refresh_token"]


def test_threads_of_one_process_share_one_exchange(setup, fake):
    h, _, _ = setup
    stale = h.access_token(KEY).access_token
    sessions = []
    threads = [threading.Thread(target=lambda: sessions.append(h.access_token(KEY, stale=stale)))
               for _ in range(30)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({s.access_token for s in sessions}) == 1
    assert len([e for e in fake.oauth.exchanges if e.grant == "refresh_token"]) == 1


def test_a_partner_store_and_lock_plug_in(fake, tmp_path):
    """The interfaces, not the files: a store and lock of the partner's own (here the
    in-process ones) give the same single exchange."""
    h = RefreshHelper(client(fake.url, str(fake.ca_path)), MemoryTokenStore(), ThreadRefreshLock(),
                      ExchangeLog(tmp_path / "l.jsonl", egress_ip=EGRESS), max_access_age_s=0.5)  # fmt: skip
    authorize(h, str(fake.ca_path))
    time.sleep(0.6)
    results = []
    threads = [threading.Thread(target=lambda: results.append(h.access_token(KEY)))
               for _ in range(10)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.access_token for r in results}) == 1
    assert [line["grant_type"] for line in read_log(tmp_path / "l.jsonl")] == [
        "authorization_code", "refresh_token"]  # fmt: skip
    assert CONSUMER_SECRET not in repr(h)


def test_client_credentials_flow(fake, tmp_path):
    log = tmp_path / "cc.jsonl"
    h = helper(fake.my_domain_url, str(fake.ca_path), tmp_path / "store", log,
               flow="client_credentials")  # fmt: skip
    assert h.request(KEY, "GET", "/services/data/v62.0/limits").status_code == 200
    (line,) = read_log(log)
    assert (line["grant_type"], line["outcome"], line["token_fp"]) == (
        "client_credentials", "success", None)  # fmt: skip


def test_the_readme_example_runs(fake, tmp_path, monkeypatch):
    """README's ten lines, with the fake's URL, key and folders: the example stays true."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## The refresh helper partners embed") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    folder, log = tmp_path / "tokens", tmp_path / "token-exchanges.jsonl"
    authorize(helper(fake.url, str(fake.ca_path), folder, log, worker="setup"), str(fake.ca_path))
    code = (
        code.replace("https://login.salesforce.com", fake.url)
        .replace("3MVG9...", CONSUMER_KEY)
        .replace("/var/lib/acme/tokens", str(folder))
        .replace("/var/log/acme/token-exchanges.jsonl", str(log))
    )
    monkeypatch.setenv("ACME_SECRET", CONSUMER_SECRET)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_path))  # verify=True honours it
    fake.orgs[0].faults.expire_session_on = {1}  # the example's call meets an expired session
    names: dict = {}
    exec(compile(code, "README.md", "exec"), names)
    assert names["limits"].status_code == 200
    assert [line["grant_type"] for line in read_log(log)] == ["authorization_code", "refresh_token"]
