"""Which field names and which shapes in free text are secrets: the redaction rules one value
at a time, in Python and in their DuckDB twin (the end-to-end searches are test_secrets.py)."""

from __future__ import annotations

import pytest

from ingest.formats.redact import fingerprint, is_secret_name, redact, scrub_text

from .secret_plants import BEARER, JWT, REFRESH_TOKEN, SESSION_ID


@pytest.mark.parametrize(
    "name",
    [
        "access_token", "AccessToken", "ACCESS-TOKEN", "refreshToken", "Refresh_Token__c",
        "ns__DeleteToken__c", "requesttoken", "id_token", "client_secret", "ConsumerSecret",
        "password", "Passwd", "assertion", "client_assertion", "code", "code_verifier",
        "sessionId", "SID", "Authorization", "private_key", "api-key", "Cookie",
    ],
)  # fmt: skip
def test_every_spelling_of_a_secret_field_is_secret(name):
    assert is_secret_name(name)
    assert redact({name: "x-LeakValue"}) == {name: fingerprint("x-LeakValue")}


@pytest.mark.parametrize(
    "name",
    [
        "token_fp", "new_token_fp", "UseCount", "tokenCount", "token_type", "STATUS_CODE",
        "postalCode", "LOGIN_KEY", "SESSION_KEY", "AppName", "LoginSubType", "errorCode",
        "OauthToken", "partner_token_log", "TOKENSENTRY_DB", "device_session_key",
    ],
)  # fmt: skip
def test_fields_that_only_describe_a_secret_are_kept(name):
    assert not is_secret_name(name)
    assert redact({name: "kept"}) == {name: "kept"}


def test_names_that_only_mention_a_token_keep_their_value_in_free_text():
    """Python decides `name: value` by the field-name rules. The DuckDB twin, which has no
    look-around, redacts every token-named assignment in an ELF value: stricter, never looser."""
    for text in ("OauthToken: AppName is missing", "token_fp=fp-1", "TOKENSENTRY_DB=/data/x"):
        assert scrub_text(text) == text
    assert scrub_text("x_refresh_token: abc") == "x_refresh_token: [redacted]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"sid={SESSION_ID}", "sid=[redacted]"),
        (f"session {SESSION_ID} expired", "session [redacted] expired"),
        (SESSION_ID.replace("!", "%21"), "[redacted]"),
        (f"sid_{SESSION_ID},X_{REFRESH_TOKEN}", "sid_[redacted],X_[redacted]"),
        (f"token {REFRESH_TOKEN}.", "token [redacted]"),
        (f"jwt {JWT} end", "jwt [redacted] end"),
        (f"Authorization: Bearer {BEARER}", "Authorization: [redacted]"),
        (f"header bearer {BEARER}", "header bearer [redacted]"),
        ('{"access_token": "abc", "user": "jo"}', '{"access_token": "[redacted]", "user": "jo"}'),
        ("?code=abc&state=2 status_code=500", "?code=[redacted]&state=2 status_code=500"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "[redacted]"),
        ("OAuth Username-Password /services/oauth2/token", "OAuth Username-Password /services/oauth2/token"),
    ],
)  # fmt: skip
def test_token_shaped_strings_in_free_text(store, text, expected):
    assert scrub_text(text) == expected
    # The DuckDB twin used for EventLogFile rows agrees with the Python rules.
    assert store.execute("SELECT scrub_secrets(?)", [text]).fetchone()[0] == expected


def test_numbers_inside_a_secret_named_object_are_kept_but_a_bare_one_is_not():
    from ingest.formats.redact import REDACTED, redact

    timings = redact({"incident/token_chain": {"p50_ms": 12.5, "p95_ms": 30, "note": "x-secret"}})
    assert timings["incident/token_chain"]["p50_ms"] == 12.5
    assert timings["incident/token_chain"]["p95_ms"] == 30
    assert timings["incident/token_chain"]["note"] != "x-secret"  # strings still fingerprinted
    bare = redact({"password": 1234})
    assert bare["password"] != 1234 and str(bare["password"]).startswith("[redacted")
    assert REDACTED == "[redacted]"


def test_detector_ids_that_mention_tokens_are_names_not_secrets():
    from ingest.formats.redact import redact

    timings = {"idle_token": 0.4, "refresh_token_reuse": "ok", "refresh_token": "5Aep861x"}
    shown = redact(timings)
    assert shown["idle_token"] == 0.4 and shown["refresh_token_reuse"] == "ok"
    assert shown["refresh_token"] != "5Aep861x"  # the real field name still is a secret's
