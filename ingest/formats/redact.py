"""Keep secrets out of the store, the logs and every output: redact before the first write.

Two rules, applied together everywhere text from Salesforce, a partner or an exception is
written (raw payloads, ELF columns, quarantined text, run errors, terminal and file output):

- **By name.** A field whose name says it holds a secret (access, refresh, delete and request
  tokens, JWT assertions, client secrets, passwords, session ids, authorization codes, private
  keys) keeps only a short fingerprint, `[redacted sha256:…]`, so equal secrets still compare
  equal. Names are compared with case, separators, namespaces and `__c` suffixes removed, so
  `DeleteToken`, `delete_token`, `DELETE-TOKEN` and `ns__Refresh_Token__c` all match.
- **By shape.** Inside any text, token-shaped strings are replaced wherever they appear:
  Salesforce session ids and access tokens (`00D…!…`), refresh tokens (`5Aep…`), JWTs
  (`eyJ…`), `Bearer …` and `Authorization: …` headers, `secret=value` pairs in URLs, form
  bodies and error texts, and PEM private keys.

`SCRUB_SQL_MACROS` defines the same shape rules in DuckDB (RE2 syntax), so EventLogFile rows
are scrubbed in bulk without a Python loop.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from typing import Any

# Words that make a field name secret wherever they appear in it (after normalising).
SECRET_NAME_WORDS = (
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "assertion",
    "privatekey",
    "apikey",
    "sessionid",
    "authorization",
    "cookie",
    "credential",
    "signature",
)
# Names that are secret only as a whole word: `code` is an OAuth authorization code, but
# `STATUS_CODE` and `postalCode` are not secrets.
SECRET_NAMES = frozenset(
    {"code", "authcode", "authorizationcode", "codeverifier", "sid", "jwt", "pwd", "bearer"}
)
# Names that mention a secret but hold metadata about it: the partner log's `token_fp`
# (CONTRACT §4) is already a fingerprint; counts, types and dates are not secrets.
METADATA_SUFFIXES = (
    "fp",
    "fingerprint",
    "count",
    "type",
    "createdat",
    "createddate",
    "lastusedat",
    "lastuseddate",
    "issuedat",
    "expiresat",
    "expiresin",
    "expirationdate",
)

# Salesforce objects and tokensentry's own source and detector names: they mention tokens but
# are names; they start quarantine reasons ("OauthToken: AppName is missing") and key the
# JSON that `detect`, `bench` and the digest print ({"refresh_token_reuse": 0.41}).
NOT_SECRET_NAMES = frozenset(
    {"oauthtoken", "oauthusagetoken", "partnertokenlog", "idletoken", "refreshtokenreuse"}
)

REDACTED = "[redacted]"
_FINGERPRINT_PREFIX = "[redacted sha256:"

# Words that make `word=value` / `"word": value` in free text a secret; the Python and DuckDB
# rules below are built from this one list.
_KEY_WORDS = (
    r"token|secret|password|passwd|passphrase|assertion|api[_.\-]?key|private[_.\-]?key"
    r"|session[_.\-]?id"
    r"|cookie|credentials?|signature"
)
_WHOLE_KEY_WORDS = r"sid|code|code_verifier|client_assertion|jwt|pwd|bearer"
_KEY = (
    rf"[A-Za-z_.\-]*(?:{_KEY_WORDS})[A-Za-z0-9_]*"  # custom-field suffixes: ns__Password__c
    rf"|(?:{_WHOLE_KEY_WORDS})"
)
_ASSIGN = r"(\"?'?\s*[:=]\s*\"?'?)"
# Token shapes, without what may precede them: not a letter or digit (an underscore may, as in
# `sid_00D…`). Python says so with a look-behind; RE2 keeps the character (\1) instead.
_SESSION_ID = r"00D[0-9A-Za-z]{12,15}(?:!|%21)[0-9A-Za-z._\-]{8,}"
_REFRESH_TOKEN = r"5Aep[0-9A-Za-z._\-]{12,}"
_JWT = r"eyJ[0-9A-Za-z_\-]{6,}(?:\.[0-9A-Za-z_\-]*){0,2}"
_NOT_AFTER_ALNUM = r"(?<![A-Za-z0-9])"
_BEARER = r"(?i)\b(bearer)(\s+)[^\s\"',;]{4,}"

# (pattern, replacement) in the order they are applied; the DuckDB twins are below.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
        REDACTED,
    ),
    (re.compile(_BEARER), r"\1\2" + REDACTED),
    (
        re.compile(
            r"(?i)\b(authorization)(\"?\s*[:=]\s*\"?)(?!\[redacted)[^\s\"',;]+(?:\s+[^\s\"',;]+)?"
        ),
        r"\1\2" + REDACTED,
    ),
    (
        re.compile(rf"(?i)(?<![A-Za-z0-9_])({_KEY}){_ASSIGN}(?!\[redacted)(?!\s)[^\s&\"',;}}<>]+"),
        "key=value",  # see _redact_assignment: the name decides, as for fields
    ),
    (re.compile(_NOT_AFTER_ALNUM + _SESSION_ID), REDACTED),
    (re.compile(_NOT_AFTER_ALNUM + _REFRESH_TOKEN), REDACTED),
    (re.compile(_NOT_AFTER_ALNUM + _JWT), REDACTED),
)
# Cheap test first, true for anything a rule above could change: most values match none of
# it (a URI ending in /oauth2/token does not), and then nothing else runs.
_MAYBE_SECRET = re.compile(
    rf"(?i:({_KEY_WORDS}|{_WHOLE_KEY_WORDS})[A-Za-z0-9_.\-]*\"?'?\s*[:=]|bearer\s|authorization)"
    r"|00D[0-9A-Za-z]{12,15}(?:!|%21)|5Aep[0-9A-Za-z._\-]{12}|eyJ[0-9A-Za-z_\-]{6}"
    r"|PRIVATE KEY"
)


def normalise_name(name: str) -> str:
    """`ns__Refresh_Token__c` → `nsrefreshtokenc`: what the name rules compare."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@functools.lru_cache(maxsize=65536)  # field names repeat on every record
def is_secret_name(name: str) -> bool:
    key = normalise_name(name).replace("tokensentry", "")  # our own name holds "token"
    if key in NOT_SECRET_NAMES:
        return False
    if key in SECRET_NAMES:
        return True
    if key.endswith(METADATA_SUFFIXES):
        return False
    return any(word in key for word in SECRET_NAME_WORDS)


def fingerprint(value: str) -> str:
    return _FINGERPRINT_PREFIX + hashlib.sha256(value.encode()).hexdigest()[:16] + "]"


# Lower-case fragments at least one of which every match of `_MAYBE_SECRET` contains: a
# substring test is ten times cheaper than the regular expression on the common miss.
_HINTS = (
    "token", "secret", "pass", "assertion", "key", "session", "cookie", "credential",
    "signature", "sid", "code", "jwt", "pwd", "bearer", "authorization", "00d", "5aep", "eyj",
)  # fmt: skip
_HINT_PATTERN = re.compile("|".join(_HINTS))


def may_hold_secret(text: str) -> bool:
    """False when `text` certainly holds nothing `scrub_text` would change."""
    return _HINT_PATTERN.search(text.lower()) is not None and _MAYBE_SECRET.search(text) is not None


def scrub_text(text: str) -> str:
    """`text` with every token-shaped string replaced (see the module docstring)."""
    if not may_hold_secret(text):
        return text
    for pattern, replacement in _SHAPES:
        if replacement == "key=value":
            text = pattern.sub(_redact_assignment, text)
        else:
            text = pattern.sub(replacement, text)
    return text


def _redact_assignment(match: re.Match[str]) -> str:
    """`refresh_token=…` loses its value; `token_fp=…` and `OauthToken: …` keep theirs."""
    name = match.group(1)
    if not is_secret_name(name):
        return match.group(0)
    return name + match.group(2) + REDACTED


def scrub_optional(text: str | None) -> str | None:
    return None if text is None else scrub_text(text)


def has_secret_name(value: Any) -> bool:
    """True when a field anywhere in `value` (a JSON-like tree) has a secret's name."""
    if isinstance(value, dict):
        return any(is_secret_name(str(key)) or has_secret_name(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_secret_name(item) for item in value)
    return False


def redact(value: Any) -> Any:
    """`value` (a JSON-like tree) with secret-named fields fingerprinted and every string
    scrubbed; returned as is (not copied) when nothing in it needs redacting."""
    if isinstance(value, dict):
        changed = False
        result: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = scrub_text(key) if isinstance(key, str) else key
            if is_secret_name(str(key)) and item not in (None, "") and not isinstance(item, bool):
                new_item: Any = _fingerprint_tree(item)
            else:
                new_item = redact(item)
            changed = changed or new_key is not key or new_item is not item
            result[new_key] = new_item
        return result if changed else value
    if isinstance(value, list):
        items = [redact(item) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, str):
        scrubbed = scrub_text(value)
        return value if scrubbed == value else scrubbed
    return value


def redacted_row(names: list[str], values: list[str]) -> str:
    """A row whose values do not line up with its header, as quarantine text: values are
    paired with the names they would have had (so secret columns are fingerprinted), and
    values past the last name are scrubbed by shape."""
    row: dict[str, Any] = dict(zip(names, values, strict=False))
    if len(values) > len(names):
        row["(extra values)"] = values[len(names) :]
    return json.dumps(redact(row))


def safe_column_names(names: list[str]) -> list[str]:
    """Header names as they may be stored: a token-shaped name is replaced, and replaced
    names that now repeat are numbered (`[redacted]`, `[redacted]_2`)."""
    result: list[str] = []
    for name in names:
        safe = scrub_text(name)
        if safe != name:
            candidate, number = safe, 1
            while candidate in result or candidate in names:
                number += 1
                candidate = f"{safe}_{number}"
            safe = candidate
        result.append(safe)
    return result


def _fingerprint_tree(value: Any, *, nested: bool = False) -> Any:
    """A secret field's value: a fingerprint, however it is nested.

    Numbers inside a secret-named object stay: they are counts and timings (a benchmark's
    `token_chain: {p50_ms: ...}`), and every credential Salesforce issues is a string. A
    number right under a secret's name (`password: 1234`) is still fingerprinted."""
    if isinstance(value, dict):
        return {scrub_text(str(k)): _fingerprint_tree(v, nested=True) for k, v in value.items()}
    if isinstance(value, list):
        return [_fingerprint_tree(item, nested=True) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if nested and isinstance(value, int | float):
        return value
    text = str(value)
    return text if text.startswith(_FINGERPRINT_PREFIX) else fingerprint(text)


# -- DuckDB ---------------------------------------------------------------------------------------


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# RE2 has no look-around, so the key=value rule keeps the character before the key (\1).
_SQL_SHAPES: tuple[tuple[str, str], ...] = (
    (r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", REDACTED),
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
    maybe = _sql_literal(_MAYBE_SECRET.pattern)  # RE2 reads (?i:…) too
    return f"CASE WHEN regexp_matches(v, {maybe}) THEN {expression} ELSE v END"


SCRUB_SQL_MACROS = f"""
CREATE OR REPLACE TEMP MACRO may_hold_secret(v) AS
    regexp_matches(v, {_sql_literal(_MAYBE_SECRET.pattern)});
CREATE OR REPLACE TEMP MACRO scrub_secrets(v) AS {_scrub_sql()};
CREATE OR REPLACE TEMP MACRO fingerprint_secret(v) AS CASE WHEN coalesce(v, '') = '' THEN v
    ELSE {_sql_literal(_FINGERPRINT_PREFIX)} || left(sha256(v), 16) || ']' END;
"""


# -- logging ----------------------------------------------------------------------------------


def scrub_log_records() -> None:
    """Make every log record of this process pass through `scrub_text` as it is created.

    Libraries log what they see (simple-salesforce and urllib3 log URLs and response texts),
    so the message, its arguments and any traceback are rendered and scrubbed here, before
    any handler can write them. Installing twice is harmless.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "scrubs_secrets", False):
        return

    def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            record.msg, record.args = scrub_text(record.getMessage()), None
        except (TypeError, ValueError):  # a malformed format: keep it, scrubbed as text
            record.msg, record.args = scrub_text(f"{record.msg!r} {record.args!r}"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
        return record

    scrubbed_record.scrubs_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbed_record)
