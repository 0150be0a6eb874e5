"""The DuckDB twins of the redaction rules: TEMP macros built from the same pattern strings
(`secret_patterns`), so EventLogFile rows are scrubbed in bulk without a Python loop, and a
value that may hold an encoded secret is handed to `redact.scrub_text` itself, registered as
the UDF `scrub_secrets_decoded`: one implementation of decoding for the store and outputs.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .redact import _FINGERPRINT_PREFIX, scrub_text
from .secret_patterns import (
    _ASSIGN,
    _B64_HINT_PATTERN,
    _BEARER,
    _ENCODED_PATTERN,
    _HINTS,
    _JWT,
    _KEY,
    _MAYBE_SECRET,
    _PEM_BEGIN,
    _PEM_END,
    _REFRESH_TOKEN,
    _SESSION_ID,
    REDACTED,
)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# RE2 has no look-around, so the key=value rule keeps the character before the key (\1).
_SQL_SHAPES: tuple[tuple[str, str], ...] = (
    (rf"(?s){_PEM_BEGIN}.*?({_PEM_END}|$)", REDACTED),
    (_BEARER, r"\1\2" + REDACTED),
    (r"(?i)\b(authorization)(\"?\s*[:=]\s*\"?)[^\s\"',;]+(\s+[^\s\"',;]+)?", r"\1\2" + REDACTED),
    (
        rf"(?i)(^|[^A-Za-z0-9_])({_KEY}){_ASSIGN}[^\s&\"',;}}<>\[]+",
        r"\1\2\3" + REDACTED,
    ),
    (rf"(^|[^A-Za-z0-9]){_SESSION_ID}", r"\1" + REDACTED),
    (rf"(^|[^A-Za-z0-9]){_REFRESH_TOKEN}", r"\1" + REDACTED),
    (rf"(^|[^A-Za-z0-9]){_JWT}", r"\1" + REDACTED),
)


def _scrub_sql() -> str:
    expression = "v"
    for pattern, replacement in _SQL_SHAPES:
        expression = (
            f"regexp_replace({expression}, {_sql_literal(pattern)}, "
            f"{_sql_literal(replacement)}, 'g')"
        )
    return (
        "CASE WHEN may_hold_encoded_secret(v) THEN scrub_secrets_decoded(v) "
        f"WHEN regexp_matches(v, {_sql_literal(_MAYBE_SECRET.pattern)}) THEN {expression} "
        "ELSE v END"
    )


# The SQL twin of `_may_hold_encoded_secret`, never narrower: an escape or a hinted base64
# run, and then (to keep `scrub_secrets_decoded` off the common `%20`) the value decoded by
# `url_decode` three times must still show a hint, an escape, or a secret's base64 form. A
# value `url_decode` refuses (invalid UTF-8) goes to Python.
_SQL_URL_DECODED = "try(url_decode(try(url_decode(try(url_decode(v))))))"
_SQL_ENCODED_GATE = f"{_ENCODED_PATTERN}|-----BEGIN|{_B64_HINT_PATTERN}"
_SQL_DECODED_GATE = f"(?i:{'|'.join(_HINTS)})|PRIVATE[ +]KEY|{_ENCODED_PATTERN}|{_B64_HINT_PATTERN}"

_SQL_ANY_GATE = f"{_MAYBE_SECRET.pattern}|{_SQL_ENCODED_GATE}"

# CASE, not AND/OR: DuckDB evaluates both sides of a conjunction in a projection, and
# `url_decode` on every row would cost more than the rest of the test.
SCRUB_SQL_MACROS = f"""
CREATE OR REPLACE TEMP MACRO may_hold_encoded_secret(v) AS
    CASE WHEN regexp_matches(v, {_sql_literal(_SQL_ENCODED_GATE)})
         THEN coalesce(regexp_matches({_SQL_URL_DECODED}, {_sql_literal(_SQL_DECODED_GATE)}), true)
         ELSE false END;
CREATE OR REPLACE TEMP MACRO may_hold_secret(v) AS
    CASE WHEN NOT regexp_matches(v, {_sql_literal(_SQL_ANY_GATE)}) THEN false
         WHEN regexp_matches(v, {_sql_literal(_MAYBE_SECRET.pattern)}) THEN true
         ELSE may_hold_encoded_secret(v) END;
CREATE OR REPLACE TEMP MACRO scrub_secrets(v) AS {_scrub_sql()};
CREATE OR REPLACE TEMP MACRO fingerprint_secret(v) AS CASE WHEN coalesce(v, '') = '' THEN v
    ELSE {_sql_literal(_FINGERPRINT_PREFIX)} || left(sha256(v), 16) || ']' END;
"""


def register_sql(con: Any) -> None:
    """Give a DuckDB connection the scrub macros and the `scrub_text` UDF they call."""
    import duckdb

    # Registered before: on this connection, or on another one to the same file in this
    # process (DuckDB shares one catalog between them).
    with contextlib.suppress(duckdb.NotImplementedException, duckdb.CatalogException):
        con.create_function(
            "scrub_secrets_decoded", scrub_text, ["VARCHAR"], "VARCHAR", side_effects=False
        )
    con.execute(SCRUB_SQL_MACROS)
