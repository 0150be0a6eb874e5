"""The one source of truth for what a secret looks like in text, read by the Python rules
(`redact.py`) and by their DuckDB twins (`redact_sql.py`): key words, token shapes, private
key blocks, the cheap hints that gate them, and the base64 forms of those hints.
"""

from __future__ import annotations

import base64
import re

REDACTED = "[redacted]"

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
# Any private key block: PKCS#8 (also ENCRYPTED), RSA/EC/DSA, OpenSSH and PGP armour; the
# separators may be `+` (form encoding). Without its END line it runs to the end of the text.
_PEM_BEGIN = r"-----BEGIN[ +][A-Z +]*PRIVATE[ +]KEY(?:[ +]BLOCK)?-----"
_PEM_END = r"-----END[ +][A-Z +]*PRIVATE[ +]KEY(?:[ +]BLOCK)?-----"

# (pattern, replacement) in the order they are applied; the DuckDB twins are below.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(rf"{_PEM_BEGIN}.*?(?:{_PEM_END}|\Z)", re.S),
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
    r"|PRIVATE[ +]KEY"
)


# Lower-case fragments at least one of which every match of `_MAYBE_SECRET` contains: a
# substring test is ten times cheaper than the regular expression on the common miss.
_HINTS = (
    "token", "secret", "pass", "assertion", "key", "session", "cookie", "credential",
    "signature", "sid", "code", "jwt", "pwd", "bearer", "authorization", "00d", "5aep", "eyj",
)  # fmt: skip
_HINT_PATTERN = re.compile("|".join(_HINTS))

# Base64 runs worth decoding, and the escape that says a value may be encoded at all.
_B64_RUN = re.compile(r"[A-Za-z0-9+/_\-]{16,}(?:={1,2}|(?:%3[Dd]){1,2})?")
_B64_MIN_LEN = 16

# Words and shapes whose base64 form marks a base64 run worth decoding (see the docstring).
_B64_WORDS = (
    "token", "Token", "TOKEN", "secret", "Secret", "SECRET", "password", "Password",
    "PASSWORD", "passwd", "passphrase", "assertion", "Assertion", "session", "Session",
    "SESSION", "cookie", "Cookie", "credential", "Credential", "signature", "Signature",
    "apikey", "api_key", "bearer", "Bearer", "BEARER", "authorization", "Authorization",
    "sid=", "SID=", "code=", "jwt", "pwd", "00D", "5Aep", "eyJ", "PRIVATE",
)  # fmt: skip


def _base64_forms(word: str) -> set[str]:
    """The base64 and base64url characters that encode `word` at each of the 3 alignments
    (only the characters that depend on `word` alone)."""
    raw = word.encode()
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0").decode()
        first = -(-8 * offset // 6)  # ceil: the first character wholly inside `word`
        last = (8 * (offset + len(raw)) - 6) // 6
        form = encoded[first : last + 1]
        forms |= {form, form.replace("+", "-").replace("/", "_")}
    return forms


_B64_HINTS = sorted({form for word in _B64_WORDS for form in _base64_forms(word)})
_B64_HINT_PATTERN = "|".join(re.escape(form) for form in _B64_HINTS)
_B64_HINT = re.compile(_B64_HINT_PATTERN)
# The cheap test for "an encoded secret may be here": an escape or a hinted base64 run.
_ENCODED_PATTERN = r"%[0-9A-Fa-f]{2}|\\|&#?[A-Za-z0-9]+;"
