"""ELF values checked as their type instead of scanned (ingest/elf_columns.py): a value that
fails its column's check is free text, scanned and scrubbed like any other."""

from __future__ import annotations

import pytest

from ingest.elf_columns import column_kind

from .helpers import elf_login, run_import, write_elf

REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJVgVvdaGMoPwHZbDqmRbk8vBfy4Hs7uIqTmOa3Ch4Wnq_Ay8Z8"
SESSION = "00D5g000004XyZa!AQ0AQFv3L2hUNKnGyNXZAM6VYvBL_bmB0TZxnd4pz1K3kIaKp2L3Xf8CT4"


def test_column_kinds():
    assert column_kind("TIMESTAMP") == "timestamp"
    assert column_kind("RUN_TIME") == "number"
    assert column_kind("USER_ID_DERIVED") == "id"
    assert column_kind("REQUEST_ID") == "text"
    assert column_kind("SOURCE_IP") == "ip"
    assert column_kind("URI") == "text"
    assert column_kind("SESSION_ID") == "secret"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("RUN_TIME", f"refresh_token={REFRESH}"),  # a number column holding text
        ("URI_ID_DERIVED", REFRESH[:18]),  # id-shaped, but a refresh token's start
        ("URI_ID_DERIVED", SESSION),  # a session id where an id belongs
        ("CLIENT_IP", f"Bearer {REFRESH}"),  # not the row's source IP: stored, so scanned
    ],
)
def test_a_typed_column_that_fails_its_check_is_scrubbed(store, tmp_path, column, value):
    row = elf_login("20261101093000.123", "203.0.113.5")
    row[column] = value
    header = [*row.keys()] + ([column] if column not in row else [])
    run_import(store, write_elf(tmp_path / "Login.csv", [row], header=header))
    stored = store.execute(f'SELECT "{column}" FROM raw_elf').fetchone()[0]
    assert REFRESH[:18] not in stored and SESSION[:20] not in stored, stored
    assert "[redacted" in stored


def test_typed_values_that_pass_are_kept_verbatim(store, tmp_path):
    row = elf_login("20261101093000.123", "2001:db8::5")
    row.update({"RUN_TIME": "42", "URI_ID_DERIVED": "0Ya5g000000AbCdEAB"})
    run_import(store, write_elf(tmp_path / "Login.csv", [row], header=[*row.keys()]))
    stored = store.execute(
        'SELECT "TIMESTAMP", RUN_TIME, URI_ID_DERIVED, SOURCE_IP FROM raw_elf'
    ).fetchone()
    assert stored == ("20261101093000.123", "42", "0Ya5g000000AbCdEAB", "2001:db8::5")
