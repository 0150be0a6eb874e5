"""Which EventLogFile values can hold a secret, decided per column in SQL.

Every ELF value reaches the store through one of three doors:

- **secret-named** columns (`is_secret_name`: SESSION_ID, ACCESS_TOKEN, ...) keep only a
  fingerprint;
- **typed** columns are checked as their type: a timestamp parses as a Salesforce timestamp, a
  number casts to DOUBLE, a Salesforce id is 15 or 18 letters and digits, an IP is hex digits,
  colons and dots. A value that passes is text no secret rule can change (no `!`, `=`, `:`,
  `%`, `\\`, space or dash run, and no `5Aep` / `eyJ` at the start of an id: the only token
  shapes made of letters and digits), so it is not scanned. A value that fails is free text;
- **free text** (URI, user agent, user name, every column not named here): scanned.

One `may_hold_secret` test runs per row over the free text and the typed values that failed
their check (cheaper than one per value); rows that pass it have every value scrubbed by
`scrub_secrets` on the way into raw_elf and events. Typed columns are most of a Login ELF's
bytes, so most of each row is checked by a cast instead of a regular expression.
"""

from __future__ import annotations

from .formats.redact import is_secret_name
from .sqltext import quote_ident

TIMESTAMP_FORMATS = {
    "TIMESTAMP": "['%Y%m%d%H%M%S.%g', '%Y%m%d%H%M%S']",
    "TIMESTAMP_DERIVED": "['%Y-%m-%dT%H:%M:%S.%gZ', '%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S.%fZ']",
}
# Numbers in Salesforce's ELF schemas: durations, sizes, counts, versions and status codes.
NUMBER_SUFFIXES = ("_TIME", "_COUNT", "_SIZE", "_BYTES", "_LENGTH", "_PROCESSED", "_RETURNED")
NUMBER_NAMES = frozenset({"API_VERSION", "STATUS_CODE", "NUMBER_FIELDS", "NUMBER_SOQL_QUERIES"})
# Salesforce record ids; REQUEST_ID and the *_KEY columns are Salesforce's own opaque keys, not
# record ids, and stay free text.
ID_SUFFIXES = ("_ID", "_ID_DERIVED")
NOT_ID_NAMES = frozenset({"REQUEST_ID", "TRANSACTION_ID", "TRACE_ID", "SPAN_ID"})
IP_NAMES = frozenset({"SOURCE_IP", "CLIENT_IP"})


def column_kind(name: str) -> str:
    """secret | timestamp | number | id | ip | text, for an upper-cased ELF column name."""
    if is_secret_name(name):
        return "secret"
    if name in TIMESTAMP_FORMATS:
        return "timestamp"
    if name in NUMBER_NAMES or name.endswith(NUMBER_SUFFIXES):
        return "number"
    if name in IP_NAMES:
        return "ip"
    if name.endswith(ID_SUFFIXES) and name not in NOT_ID_NAMES:
        return "id"
    return "text"


def typed_ok_sql(name: str, kind: str) -> str:
    """True when the value passes its column's type check (empty and NULL pass)."""
    v = quote_ident(name)
    if kind == "timestamp":
        check = f"try_strptime({v}, {TIMESTAMP_FORMATS[name]}) IS NOT NULL"
    elif kind == "number":
        check = f"try_cast({v} AS DOUBLE) IS NOT NULL"
    elif kind == "id":
        check = f"sf_is_id({v}) AND NOT (starts_with({v}, '5Aep') OR starts_with({v}, 'eyJ'))"
    elif kind == "ip":
        check = f"(regexp_full_match({v}, '[0-9A-Fa-f:.]+') OR lower({v}) = 'salesforce.com ip')"
    else:
        raise ValueError(kind)
    return f"(coalesce({v}, '') = '' OR {check})"


def secret_scan_sql(columns: list[str]) -> str:
    """The text of the row's one secret test: free text, plus every typed value that failed
    its check. Secret-named columns are fingerprinted whatever they hold, so they are not
    scanned. Computed as a column of its own: `may_hold_secret` names its argument four
    times, and an expression passed in would be built (and planned) four times."""
    parts = []
    for name in columns:
        kind = column_kind(name)
        if kind == "secret":
            continue
        if kind == "text":
            parts.append(quote_ident(name))
        else:
            parts.append(f"CASE WHEN NOT {typed_ok_sql(name, kind)} THEN {quote_ident(name)} END")
    return f"concat_ws(chr(31), {', '.join(parts)})" if parts else "''"
