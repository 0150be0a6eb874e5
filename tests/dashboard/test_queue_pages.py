"""The queue a page at a time: `incidents`/`alerts` cut and sorted in DuckDB (`limit`, `offset`,
`order`) and `incident_count`/`alert_count` saying how many match in all, on the demo store."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from dashboard import queries
from ingest import db

SORT_COLUMNS = {"last seen": "last_seen", "first seen": "first_seen"}


@pytest.mark.parametrize("kind", ["incident", "alert"])
def test_pages_of_the_queue_add_up_to_the_whole_list_in_its_order(demo_db, kind):
    listing = getattr(queries, f"{kind}s")
    count = getattr(queries, f"{kind}_count")
    size = "alert_count" if kind == "incident" else "event_count"
    with db.connect(demo_db, read_only=True) as con:
        filters = queries.default_filters(con)
        whole = listing(con, filters)
        assert count(con, filters) == len(whole) > 4
        pages = [listing(con, filters, limit=3, offset=start) for start in range(0, len(whole), 3)]
        joined = pd.concat(pages, ignore_index=True)
        assert list(joined[f"{kind}_id"]) == list(whole[f"{kind}_id"])
        for order in queries.INCIDENT_ORDERS:
            assert set(queries.ALERT_ORDERS) == set(queries.INCIDENT_ORDERS)
            rows = listing(con, filters, order=order)
            assert sorted(rows[f"{kind}_id"]) == sorted(whole[f"{kind}_id"])
            column = {**SORT_COLUMNS, "size": size}.get(order)
            if column:  # the chosen column leads, most severe then most recent breaks ties
                expected = whole.sort_values(column, ascending=False, kind="stable")
                assert list(rows[f"{kind}_id"]) == list(expected[f"{kind}_id"]), order
        narrowed = replace(filters, severities=("critical",))
        assert count(con, narrowed) == len(listing(con, narrowed)) < len(whole)
