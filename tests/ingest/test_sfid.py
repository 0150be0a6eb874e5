from __future__ import annotations

import pytest

from ingest import sfid

KNOWN = [
    # (15, 18) pairs Salesforce issued: Elastic's samples show both forms of one user.
    ("0055j000000utlP", "0055j000000utlPAAQ"),
    ("00D5g000004XyZa", "00D5g000004XyZaEAK"),
    ("001000000000000", "001000000000000AAA"),
    ("ABCDEabcdeABCDE", "ABCDEabcdeABCDE5A5"),
]


@pytest.mark.parametrize(("short", "long"), KNOWN)
def test_to18(short, long):
    assert sfid.to18(short) == long
    assert sfid.to18(long) == long


@pytest.mark.parametrize(("short", "long"), KNOWN)
def test_sql_macro_matches_python(store, short, long):
    assert store.execute("SELECT sf_id18(?)", [short]).fetchone()[0] == long


@pytest.mark.parametrize("bad", ["", "0055j000000utl", "0055j000000utll12", "0055j00000-utlP"])
def test_invalid_ids(store, bad):
    assert not sfid.is_salesforce_id(bad)
    with pytest.raises(ValueError, match="not a 15- or 18-character Salesforce id"):
        sfid.to18(bad)
    assert store.execute("SELECT sf_id18(?)", [bad]).fetchone()[0] is None
