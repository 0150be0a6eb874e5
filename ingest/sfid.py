"""Salesforce record ids: the 15-character case-sensitive form and the 18-character safe form.

Salesforce appends three checksum characters that encode, for each block of five characters,
which ones are upper-case letters. Storing every org and user id in the 18-character form makes
ids from LoginHistory (18), EventLogFile USER_ID (15) and partner logs (either) join.
"""

from __future__ import annotations

import re

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def is_salesforce_id(value: str) -> bool:
    return bool(_ID_PATTERN.match(value))


def to18(value: str) -> str:
    """Return the 18-character form of a 15- or 18-character Salesforce id.

    An 18-character id is returned unchanged: its suffix is authoritative, and the case of its
    first 15 characters is what Salesforce issued.
    """
    if not is_salesforce_id(value):
        raise ValueError(f"{value!r} is not a 15- or 18-character Salesforce id")
    if len(value) == 18:
        return value
    suffix = ""
    for block in range(3):
        bits = 0
        for position, char in enumerate(value[block * 5 : block * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return value + suffix


def _block_sql(arg: str, start: int) -> str:
    terms = " + ".join(
        f"(CASE WHEN substr({arg}, {start + i}, 1) BETWEEN 'A' AND 'Z' THEN {1 << i} ELSE 0 END)"
        for i in range(5)
    )
    return f"substr('{_SUFFIX_ALPHABET}', 1 + {terms}, 1)"


SQL_MACROS = f"""
CREATE OR REPLACE TEMP MACRO sf_is_id(v) AS
    regexp_full_match(v, '[a-zA-Z0-9]{{15}}([a-zA-Z0-9]{{3}})?');
CREATE OR REPLACE TEMP MACRO sf_id18(v) AS CASE
    WHEN v IS NULL OR v = '' THEN NULL
    WHEN NOT sf_is_id(v) THEN NULL
    WHEN length(v) = 18 THEN v
    ELSE v || {_block_sql("v", 1)} || {_block_sql("v", 6)} || {_block_sql("v", 11)}
END;
"""
"""DuckDB macros with the same algorithm as `to18`, so the bulk ELF path never leaves SQL."""
