"""The one text boundary between the store and the browser (issue 19): the helpers of
`dashboard/web/safe_text.py`, their output under Streamlit's AppTest, and the static check that
every page hands Streamlit text only through them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.web import safe_text

from .text_boundary import violations, violations_in

BIDI = "My Ticket Portal \u202e)enuineg( cnyS emcA\u202c"
INVISIBLE = "zero\u200bwidth\u200c\u200d\u2060\ufeff\u2066iso\u2069\u200e\u200f\u061c"
ANSI = "\x1b[2J\x1b[31mred\x1b[0m\x9b31m"
MARKUP = [
    "![i](http://127.0.0.1:9/x.png)",
    "[LNK](http://127.0.0.1:9/l)",
    "**B**",
    "_e_",
    ":red[R]",
    ":red-badge[R]",
    ":material/home:",
    ":smile:",
    "$$\\LaTeX$$",
    "$x$",
    "<img src=http://127.0.0.1:9/h.png>",
    "<script>alert(1)</script>",
    "http://127.0.0.1:9/bare",
    "www.example.com",
    "ada@example.com",
    "~~s~~",
    "`c`",
    "# heading",
    "- item",
    "1. item",
    "> quote",
    "&#42;x&#42;",
]


def test_invisible_and_direction_characters_are_spelled_out():
    assert safe_text.plain(BIDI) == "My Ticket Portal ⟨U+202E⟩)enuineg( cnyS emcA⟨U+202C⟩"
    shown = safe_text.plain(INVISIBLE)
    for code in ("200B", "200C", "200D", "2060", "FEFF", "2066", "2069", "200E", "200F", "061C"):
        assert f"⟨U+{code}⟩" in shown
    assert safe_text.plain(ANSI) == "⟨U+001B⟩[2J⟨U+001B⟩[31mred⟨U+001B⟩[0m⟨U+009B⟩31m"
    assert safe_text.plain("a\r\nb\tc") == "a⟨U+000D⟩⟨U+000A⟩b⟨U+0009⟩c"
    assert safe_text.plain("a\r\nb", newlines=True) == "a⟨U+000D⟩\nb"  # text blocks keep lines
    assert safe_text.plain("\u3164\u2800") == "⟨U+3164⟩⟨U+2800⟩"  # letters that draw nothing
    for value in (BIDI, INVISIBLE, ANSI):
        assert all(c.isprintable() for c in safe_text.plain(value))


def test_long_values_are_cut_and_say_how_long_they_were():
    huge = "A" * 1_048_576
    assert safe_text.plain("x" * 512) == "x" * 512
    cut = safe_text.plain(huge)
    assert cut.startswith("A" * 512) and len(cut) < 600
    assert cut.endswith("… (cut, 1,048,576 characters in all)")
    # spelling characters out cannot make it longer than the limit either
    assert len(safe_text.plain("\u202e" * 10_000, 100)) < 150
    assert len(safe_text.md("**x** " * 200_000)) < 600


@pytest.mark.parametrize(
    "value",
    ["false_positive", "192.0.2.10", "worker-1", "(none)", "Acme Sync", "2026-11-29 10:00",
     "partner's new NAT gateway", "Ticket #42 - done!", "-5", "fp-A", "STALE (> 26 h)"[:5],
     "⟨U+202E⟩"],
)  # fmt: skip
def test_ordinary_values_stay_as_they_are(value):
    assert safe_text.md(value) == value
    assert safe_text.plain(value) == value


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_is_shown_literally_in_a_code_span(markup):
    block = markup[0] in "#->1"  # only markup at the start of a value
    values = [markup] if block else [markup, f"Data Loader {markup} and more"]
    for value in values:
        shown = safe_text.md(value)
        if ":material/" in value:  # Streamlit rewrites it even in code, so it goes outside
            assert shown in (
                r"\:material\/` home: `",
                r"` Data Loader  `\:material\/` home: and more `",
            )
            continue
        fence = shown[: len(shown) - len(shown.lstrip("`"))]
        assert fence and shown == f"{fence} {value} {fence}"
        assert fence not in value  # the value cannot close the span


def test_frames_keep_numbers_and_make_text_cells_safe():
    data = pd.DataFrame(
        {
            "app": [f"**B** {BIDI}", "Acme Sync"],
            "ips": [["198.51.100.1", "198.51.100.2"], []],
            "n": [1, 2],
            "at": pd.to_datetime(["2026-11-29 10:00:07", "2026-11-29 11:00:00"]),
            "note": [None, "x" * 2000],
        }
    )
    table = safe_text.frame(data, markdown=True)
    assert table["app"][0] == f"` **B** {safe_text.plain(BIDI)} `"
    assert table["app"][1] == "Acme Sync"
    assert list(table["ips"]) == ["198.51.100.1, 198.51.100.2", ""]
    assert list(table["n"]) == [1, 2] and table["n"].dtype == data["n"].dtype
    assert list(table["at"]) == ["2026-11-29 10:00:07 UTC", "2026-11-29 11:00:00 UTC"]
    assert pd.isna(table["note"][0]) and len(table["note"][1]) < 600
    grid = safe_text.frame(data)
    assert grid["app"][0] == f"**B** {safe_text.plain(BIDI)}"  # a grid shows text as text
    chart = safe_text.chart_frame(data)
    assert chart["at"].dtype == data["at"].dtype and chart["ips"][0] == data["ips"][0]


def test_json_values_are_plain_and_bounded():
    value = {BIDI: [ANSI, 1, None, True, {"ua": "U" * 100_000}], "n": 2.5}
    shown = safe_text.json_value(value)
    assert list(shown) == [safe_text.plain(BIDI, 200), "n"]
    inner = shown[safe_text.plain(BIDI, 200)]
    assert inner[0] == safe_text.plain(ANSI) and inner[1:4] == [1, None, True]
    assert len(inner[4]["ua"]) < 2100
    assert len(safe_text.json_value(list(range(10_000)))) == 200


def test_runbooks_render_as_markdown_only_when_the_product_ships_them():
    from detect import registry

    runbook = next(d.runbook for d in registry.all_detectors() if d.runbook)
    assert safe_text.product_markdown(runbook) == runbook
    assert safe_text.product_markdown("![x](http://e/x.png)").startswith("`")


def _hostile_app() -> None:
    import pandas as pd
    import streamlit as st

    from dashboard.web import safe_text

    hostile = "Data Loader ![i](http://127.0.0.1:9/x.png) **B** :red[R] \u202e)x(\u202c"
    huge = "U" * 1_048_576
    safe_text.table(pd.DataFrame({"app": [hostile, huge], "n": [1, 2]}))
    safe_text.grid(pd.DataFrame({"app": [hostile]}))
    safe_text.labelled("User agent", huge)
    safe_text.text(hostile)
    safe_text.json({"app": hostile})
    st.caption(safe_text.md(hostile))
    st.selectbox("App", [hostile, huge], format_func=safe_text.option, key="app")


def test_streamlit_receives_only_safe_and_bounded_text():
    app = AppTest.from_function(_hostile_app, default_timeout=30).run()
    assert not app.exception
    visible = "Data Loader ![i](http://127.0.0.1:9/x.png) **B** :red[R] ⟨U+202E⟩)x(⟨U+202C⟩"
    cells = app.table[0].value["app"].tolist()
    assert cells[0] == f"` {visible} `"
    assert cells[1].endswith("(cut, 1,048,576 characters in all)") and len(cells[1]) < 600
    assert app.dataframe[0].value["app"].tolist() == [visible]
    texts = [t.value for t in app.text]
    assert texts[0].startswith("User agent: UUU") and len(texts[0]) < 4200
    assert texts[1] == visible
    assert app.caption[0].value == f"` {visible} `"
    assert json.loads(app.get("json")[0].proto.body) == {"app": visible}
    assert app.selectbox(key="app").options[0] == visible
    assert len(app.selectbox(key="app").options[1]) < 200
    # the whole of a cut value is one click away, generated only when clicked
    downloads = app.get("download_button")
    assert len(downloads) == 2  # the table's cut cell, and the user agent
    for download in downloads:
        assert download.proto.deferred_file_id and not download.proto.url
    every = "".join(str(e.proto) for e in (*app.table, *app.text, *app.caption, *downloads))
    assert "\u202e" not in every and len(every) < 20_000


def test_every_page_passes_untrusted_text_through_the_boundary():
    assert violations() == []


BAD_PAGE = """
import altair as alt, pydeck as pdk, streamlit as st
from dashboard.web import safe_text, ui
row = ui.q("alert", "x")
st.markdown(row["app"])
st.caption(f"App {row['app']}")
st.title("Alert " + row["alert_id"])
st.text(row["user_agent"])
st.table(row["events"])
st.json(row["evidence"])
st.metric("severity", row["severity"])
columns = st.columns(2)
columns[0].metric(row["app"], 1)
st.selectbox("App", row["apps"])
st.altair_chart(alt.Chart(row["events"]).mark_bar())
pdk.Layer("ScatterplotLayer", data=row["places"])
st.markdown(safe_text.plain(row["app"]))
st.markdown("<b>ours</b>", unsafe_allow_html=True)
st.image(row["logo"])
with st.expander(row["title"]):
    pass
st.page_link("x.py", label=row["app"])
"""
GOOD_PAGE = """
import altair as alt, streamlit as st
from dashboard.web import safe_text, ui
row = ui.q("alert", "x")
st.markdown(ui.md(row["app"]))
st.caption(f"{len(row):,} rows, newest {row['at']:%Y-%m-%d}")
st.title(safe_text.md("Alert " + row["alert_id"]))
st.text(safe_text.plain(row["user_agent"]))
st.table(safe_text.frame(row["events"], markdown=True))
st.json(safe_text.json_value(row["evidence"]))
st.metric("severity", safe_text.plain(row["severity"]))
st.selectbox("App", row["apps"], format_func=safe_text.option)
st.selectbox("Status", ["new", "resolved"])
st.altair_chart(alt.Chart(safe_text.chart_frame(row["events"])).mark_bar())
ui.table(row["events"])
"""


def test_the_static_check_catches_each_way_around_the_boundary():
    found = list(violations_in(BAD_PAGE, "bad.py"))
    lines = sorted({int(v.split(":")[1]) for v in found})
    assert lines == [5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 22], found
    assert list(violations_in(GOOD_PAGE, "good.py")) == []
