"""Keep secrets out of the store, the logs and every output: redact before the first write.

Two rules, applied together everywhere text from Salesforce, a partner or an exception is
written (raw payloads, ELF columns, quarantined text, run errors, terminal and file output):

- **By name.** A field whose name says it holds a secret (access, refresh, delete and request
  tokens, JWT assertions, client secrets, passwords, session ids, authorization codes, private
  keys) keeps only a short fingerprint, `[redacted sha256:…]`, so equal secrets still compare
  equal. Names are compared with case, separators, namespaces and `__c` suffixes removed, so
  `DeleteToken`, `delete_token`, `DELETE-TOKEN` and `ns__Refresh_Token__c` all match. Only
  a field name can: a key that is free text (a quarantine reason such as `partner_token_log:
  egress_ip '…' is not an IP address`, keying a count) keeps its value, and the key itself is
  scrubbed by shape.
- **By shape.** Inside any text, token-shaped strings are replaced wherever they appear:
  Salesforce session ids and access tokens (`00D…!…`), refresh tokens (`5Aep…`), JWTs
  (`eyJ…`), `Bearer …` and `Authorization: …` headers, `secret=value` pairs in URLs, form
  bodies and error texts, and PEM private keys.

**Encoded secrets.** A secret may arrive percent-encoded (`sid%3D00D…%21…`, `%253D` twice),
JSON- or JavaScript-escaped (`{\\"refresh_token\\":\\"…\\"}`, `\\u0022`), as HTML entities
(`&quot;`, `&#61;`) or wrapped in base64/base64url. So the rules judge the decoded form of a
value as well as the raw one (`decoded`: every escape undone, up to four rounds, with each
decoded character's place in the raw text kept). Where a rule matches the decoded form, the
raw characters it came from are replaced; a base64 run whose decoding holds a secret is
replaced whole. Base64 runs are only decoded when they contain the base64 form (at any of the
three alignments) of a word or shape the rules look for (`_B64_WORDS`), so the test stays
cheap; a base64-wrapped secret is found when that word is in lower, upper or title case.

`code=200` is scrubbed like any `code=`: an OAuth authorization code has no shape to tell it
from a status code, so the value of a bare `code` key is never kept (`status_code=` is).

The patterns live in `secret_patterns.py` (the one source of truth), decoding in `decode.py`.
`redact_sql.SCRUB_SQL_MACROS` defines the same rules in DuckDB (RE2 syntax), built from the
same pattern strings, so EventLogFile rows are scrubbed in bulk without a Python loop. A value
that may hold an encoded secret (a cheap RE2 prefilter, then `url_decode` three times and the same
hints) is handed to `scrub_text` itself, registered as the UDF `scrub_secrets_decoded`: one
implementation of decoding, so the store and every output agree byte for byte.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import re
import urllib.parse
from typing import Any

from .decode import decoded
from .secret_patterns import (
    _B64_HINT,
    _B64_MIN_LEN,
    _B64_RUN,
    _ENCODED_PATTERN,
    _HINT_PATTERN,
    _MAYBE_SECRET,
    _SHAPES,
    REDACTED,
)

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

# What a field name looks like: at most three words (`refresh_token`, `ns__Password__c`,
# `incident/token_chain`, `x-api-key`, a report label `Refresh Token`) of letters, digits and
# `_ . - / $ @`. Anything else, a sentence, a quarantine reason (`partner_token_log: egress_ip
# '' is not an IP address`), is free text used as a key: its value is not a secret for the
# key's sake, and the key itself is scrubbed by shape like any text.
_FIELD_NAME = re.compile(r"[\w.\-/$@]+(?: [\w.\-/$@]+){0,2}", re.ASCII)
_FIELD_NAME_MAX = 100

_FINGERPRINT_PREFIX = "[redacted sha256:"


def normalise_name(name: str) -> str:
    """`ns__Refresh_Token__c` → `nsrefreshtokenc`: what the name rules compare."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@functools.lru_cache(maxsize=65536)  # field names repeat on every record
def is_secret_name(name: str) -> bool:
    """True when `name` is a field name (see `_FIELD_NAME`) that says its value is a secret."""
    if len(name) > _FIELD_NAME_MAX or not _FIELD_NAME.fullmatch(name.strip()):
        return False
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


def _may_hold_plain_secret(text: str) -> bool:
    return _HINT_PATTERN.search(text.lower()) is not None and _MAYBE_SECRET.search(text) is not None


def may_hold_secret(text: str) -> bool:
    """False when `text` certainly holds nothing `scrub_text` would change."""
    return _may_hold_plain_secret(text) or _may_hold_encoded_secret(text)


def scrub_text(text: str) -> str:
    """`text` with every token-shaped string replaced, in its raw form and in every decoded
    form (see the module docstring)."""
    # A batch's values repeat: a short one is judged once. The text itself comes back when
    # nothing changed (not the cache's copy): `redact` tells by identity that nothing did.
    scrubbed = _scrub_cached(text) if len(text) <= 512 else _scrub_text(text)
    return text if scrubbed == text else scrubbed


def _scrub_text(text: str) -> str:
    if _may_hold_plain_secret(text):
        text = _scrub_shapes(text)
    if _may_hold_encoded_secret(text):
        text = _scrub_decoded(text, depth=0)
    return text


_scrub_cached = functools.lru_cache(maxsize=65536)(_scrub_text)  # pure: same answers


def _scrub_shapes(text: str) -> str:
    for pattern, replacement in _SHAPES:
        if replacement == "key=value":
            text = pattern.sub(_redact_assignment, text)
        else:
            text = pattern.sub(replacement, text)
    return text


# -- decoding before judging ----------------------------------------------------------------


def _may_hold_encoded_secret(text: str) -> bool:
    if ("%" in text or "\\" in text or "&" in text) and re.search(_ENCODED_PATTERN, text):
        return True
    return any(_B64_HINT.search(run.group()) for run in _B64_RUN.finditer(text))


def _secret_spans(text: str) -> list[tuple[int, int]]:
    """Where in `text` the shape rules would replace something: (start, end) of each value."""
    spans: list[tuple[int, int]] = []
    if not _may_hold_plain_secret(text):
        return spans
    for pattern, replacement in _SHAPES:
        for match in pattern.finditer(text):
            if replacement == "key=value":
                if is_secret_name(match.group(1)):
                    spans.append((match.end(2), match.end()))
            elif replacement.startswith("\\1\\2"):  # bearer / authorization: keep the name
                spans.append((match.end(2), match.end()))
            else:
                spans.append((match.start(), match.end()))
    return spans


def _base64_spans(text: str, depth: int) -> list[tuple[int, int]]:
    """Base64 runs (with a hint) whose decoding holds a secret."""
    spans = []
    for run in _B64_RUN.finditer(text):
        if depth > 2 or not _B64_HINT.search(run.group()):
            continue
        body = re.sub(r"(=|%3[Dd])+$", "", run.group()).replace("-", "+").replace("_", "/")
        for skip in range(4):  # the run may start mid-group (`X_` + base64url)
            part = body[skip:]
            if len(part) < _B64_MIN_LEN or len(part) % 4 == 1:
                continue
            try:
                raw = base64.b64decode(part + "=" * (-len(part) % 4), validate=True)
            except ValueError:
                continue
            inner = raw.decode("utf-8", errors="replace")
            if may_hold_secret(inner) and _scrub_nested(inner, depth + 1) != inner:
                spans.append(run.span())
                break
    return spans


def _scrub_nested(text: str, depth: int) -> str:
    if _may_hold_plain_secret(text):
        text = _scrub_shapes(text)
    return _scrub_decoded(text, depth=depth) if _may_hold_encoded_secret(text) else text


def _worth_decoding(text: str) -> bool:
    """The SQL gate's test, in Python: after three rounds of `unquote` (fast, in C) the text
    must still show a hint, an escape or a hinted base64 run, or no decoded form can hold a
    secret. Spares the position-keeping decoder the common `%20`."""
    plain_text = text
    for _ in range(3):
        plain_text = urllib.parse.unquote(plain_text, errors="replace")
    return (
        _HINT_PATTERN.search(plain_text.lower()) is not None
        or re.search(_ENCODED_PATTERN, plain_text) is not None
        or any(_B64_HINT.search(run.group()) for run in _B64_RUN.finditer(plain_text))
    )


def _scrub_decoded(text: str, *, depth: int) -> str:
    """`text` with the raw characters of every secret found in its decoded forms replaced."""
    if not _worth_decoding(text):
        return text
    for _ in range(3):  # a replacement can reveal another secret (two in one escape run)
        plain_text, places = decoded(text)
        spans = [] if plain_text == text else _secret_spans(plain_text)
        spans += _base64_spans(plain_text, depth)
        raw_spans = sorted(
            (places[start], places[end]) for start, end in spans if places[end] > places[start]
        )
        raw_spans = [(start, end) for start, end in raw_spans if text[start:end] != REDACTED]
        if not raw_spans:
            break
        pieces, position = [], 0
        for start, end in raw_spans:
            if end <= position:
                continue
            start = max(start, position)
            pieces += [text[position:start], REDACTED]
            position = end
        pieces.append(text[position:])
        text = "".join(pieces)
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
            new_key = _unique_key(scrub_text(key), result) if isinstance(key, str) else key
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


def _unique_key(key: str, taken: dict[Any, Any]) -> str:
    """`key`, numbered (`[redacted] (2)`) when scrubbing made it equal to a key already
    kept: two quarantine reasons that differ only in a secret stay two counts."""
    candidate, number = key, 1
    while candidate in taken:
        number += 1
        candidate = f"{key} ({number})"
    return candidate


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
