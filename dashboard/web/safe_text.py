"""The one text boundary between the store and the browser (issue 19).

Every string that came from Salesforce, a log, a file or a person (app names, user agents,
cities, workers, error descriptions, quarantine reasons, analysts' names and notes) reaches
Streamlit through this module, shaped for the element that shows it:

- `plain(value)`: for elements that never interpret Markdown (`st.text`, data-grid cells,
  JSON viewers, chart labels, select options, metric values). Control, bidi and zero-width
  characters become visible (`⟨U+202E⟩`) and the value is cut to a bounded length.
- `md(value)`: for elements that render Markdown (`st.table` cells, titles, headers, captions,
  alerts, metric labels, expander and button labels). `plain`, then returned unchanged when it
  holds nothing Markdown or Streamlit could act on, else shown literally in a code span (no
  link, image, emphasis, colour directive, icon, emoji shortcode or LaTeX can survive one).
- Renderers that use them: `text`, `labelled`, `table`, `grid`, `json`, `option`, `frame`.

A value longer than the limit is cut on the page, with the full text (bounded) one click away
as a download generated only when clicked: a 1 MB user agent never reaches the page whole.
`tests/dashboard/test_text_boundary.py` checks by AST that pages pass data through here.
"""

from __future__ import annotations

import hashlib
import json as json_module
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitDuplicateElementKey

from dashboard import timefmt

CELL_LIMIT = 512  # table and grid cells, chart labels, JSON strings
DETAIL_LIMIT = 2048  # one value shown on its own (summary, note, user agent)
OPTION_LIMIT = 160  # select options
DOWNLOAD_LIMIT = 256 * 1024  # characters of one value in the "full text" download
DOWNLOAD_VALUES = 20  # values in one table's download

# Invisible or direction-changing: bidi embeddings/overrides/isolates, marks, zero-width,
# BOM, plus letters that render as nothing. Categories Cc/Cf/Zl/Zp/Co/Cs are caught below.
INVISIBLE = {0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x034F}
_INVISIBLE_CHAR = re.compile("[" + "".join(map(chr, sorted(INVISIBLE))) + "]")  # one C scan
_SHOWN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs"}
# What Markdown or Streamlit can act on, anywhere in a value.
_ACTIVE = re.compile(
    r"[\\`*\[\]<>|~$&@]"  # emphasis, code, links, images, HTML, tables, LaTeX, entities
    r"|:[\w+\-/]*:"  # emoji shortcodes and :material/icon:
    r"|:(?!\d)|(?<!\d):"  # directives (:red[…]), schemes (http://): a colon not in 12:30
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"  # _emphasis_ (intraword _ never is)
    r"|www\.",  # GFM autolinks (schemes and e-mail are caught by ':' and '@')
    re.IGNORECASE,
)
_BLOCK_START = re.compile(r"^(\s|[-+*#>=]+(\s|$)|\d+[.)](\s|$))")  # lists, headings, rules
CUT_MARK = "…"


def _shown(char: str) -> str:
    code = ord(char)
    if code in INVISIBLE or unicodedata.category(char) in _SHOWN_CATEGORIES:
        return f"⟨U+{code:04X}⟩"
    return char


def visible(value: Any, *, newlines: bool = False) -> str:
    """`str(value)` with every control, bidi, zero-width and invisible character spelled out;
    newlines kept only when `newlines` (text blocks), else spelled out too."""
    text = "" if value is None else str(value)
    if text.isprintable() and not _INVISIBLE_CHAR.search(text):
        return text  # the common case, quickly
    if newlines:
        return "\n".join("".join(map(_shown, line)) for line in text.split("\n"))
    return "".join(map(_shown, text))


def cut(text: str, limit: int) -> str:
    """At most about `limit` characters, saying how long the whole was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}{CUT_MARK} (cut, {len(text):,} characters in all)"


def plain(value: Any, limit: int = CELL_LIMIT, *, newlines: bool = False) -> str:
    """For elements that show text as text: invisible characters spelled out, length cut."""
    text = "" if value is None else str(value)
    shown = visible(text[: limit + 1], newlines=newlines)
    if len(text) > limit or len(shown) > limit:
        return f"{shown[:limit]}{CUT_MARK} (cut, {len(text):,} characters in all)"
    return shown


def is_inert(text: str) -> bool:
    """True when Markdown and Streamlit would show `text` exactly as it is."""
    return not _ACTIVE.search(text) and not _BLOCK_START.match(text) and "\n" not in text


def _code_span(text: str) -> str:
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def literal(text: str) -> str:
    """Markdown that shows `text` (one line) literally: in code spans, where nothing is parsed.
    Streamlit rewrites `:material/` even there, so that sequence goes outside, escaped."""
    parts = text.split(":material/")
    return r"\:material\/".join(_code_span(part) if part else "" for part in parts)


def md(value: Any, limit: int = CELL_LIMIT) -> str:
    """For elements that render Markdown: the value shown as written, never as markup."""
    text = plain(value, limit)
    return text if is_inert(text) else literal(text)


def option(value: Any) -> str:
    """`format_func` for select boxes and multiselects over data values."""
    return plain(value, OPTION_LIMIT)


def product_markdown(text: str | None) -> str:
    """Markdown the product ships (a detector's runbook) rendered as Markdown; anything else,
    e.g. a runbook read back from a store someone edited, is shown literally."""
    from detect import registry

    if text and text in {d.runbook for d in registry.all_detectors()}:
        return text
    return md(text or "", DETAIL_LIMIT)


# --- structured values --------------------------------------------------------------------


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def _as_text(value: Any) -> Any:
    """A cell as the text it shows: lists comma-joined, mappings as JSON; others unchanged."""
    if _is_list(value):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json_module.dumps(value, default=str, ensure_ascii=False)
    return value


def _textual(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def viewer_zone() -> str | None:
    """The browser's time zone (IANA name Streamlit reads from the page), None outside one."""
    try:
        return st.context.timezone
    except Exception:  # no script run context (bare mode, a unit test): UTC
        return None


def frame(
    data: pd.DataFrame,
    *,
    markdown: bool = False,
    limit: int = CELL_LIMIT,
    display: bool = True,
) -> pd.DataFrame:
    """A copy whose text cells are safe for a grid (`plain`) or a Markdown table (`md`), with
    timestamps to the second in the viewer's zone (`timefmt`) and lists joined; with
    `display=False` (charts, maps) only the text cells change. Numbers, booleans and nulls
    stay as they are."""
    shape = md if markdown else plain
    as_text = _as_text if display else (lambda v: v)
    shown = data.copy().reset_index(drop=True)
    shown.columns = [plain(c, 80) for c in shown.columns]
    for column in shown.columns:
        series = shown[column]
        if display and pd.api.types.is_datetime64_any_dtype(series):
            shown[column] = timefmt.shown_series(series, viewer_zone())
        elif _textual(series):
            shown[column] = series.map(
                lambda v: shape(text, limit) if isinstance(text := as_text(v), str) else v
            )
    return shown


def chart_frame(data: pd.DataFrame) -> pd.DataFrame:
    """For charts and maps: text cells (labels, tooltips) `plain`, short; the rest unchanged."""
    return frame(data, limit=OPTION_LIMIT, display=False)


def json_value(value: Any, limit: int = CELL_LIMIT * 4, *, depth: int = 0) -> Any:
    """A JSON-able value with every key and string `plain`, at most 200 items per level."""
    if depth > 20:
        return plain(json_module.dumps(value, default=str), limit)
    if isinstance(value, dict):
        items = list(value.items())[:200]
        return {plain(k, 200): json_value(v, limit, depth=depth + 1) for k, v in items}
    if _is_list(value):
        return [json_value(v, limit, depth=depth + 1) for v in list(value)[:200]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return plain(value, limit)


def _cut_cells(data: pd.DataFrame, limit: int) -> dict[str, str]:
    """Distinct text cells longer than `limit`, by column and row, for the download."""
    found: dict[str, str] = {}
    for column in data.columns:
        if not _textual(data[column]):
            continue
        for row, value in data[column].items():
            value = _as_text(value)
            if isinstance(value, str) and len(value) > limit and value not in found.values():
                found[f"{column} (row {row})"] = value
                if len(found) >= DOWNLOAD_VALUES:
                    return found
    return found


# --- renderers ----------------------------------------------------------------------------


def _download(label: str, payload: Callable[[], str], digest: str, file_name: str) -> None:
    """A download generated on click (never part of the page); unique per page run."""
    key = f"ts_full_{digest}"
    for attempt in range(50):
        try:
            st.download_button(
                label, payload, file_name=file_name, mime="text/plain",
                key=f"{key}_{attempt}", on_click="ignore",
            )  # fmt: skip
            return
        except StreamlitDuplicateElementKey:
            continue


def full_text(value: Any, *, name: str = "value") -> None:
    """The download offering the whole of a value that was cut on the page."""
    text = "" if value is None else str(value)
    digest = hashlib.sha256(text[:DOWNLOAD_LIMIT].encode("utf-8", "replace")).hexdigest()[:16]
    _download(
        md(f"Full {name} ({len(text):,} characters)", 200),
        lambda: visible(text[:DOWNLOAD_LIMIT], newlines=True),
        digest,
        f"tokensentry-{digest}.txt",
    )


def text(value: Any, *, limit: int = DETAIL_LIMIT, name: str = "text") -> None:
    """A value as plain text (never Markdown, never HTML); cut, with the rest one click away."""
    st.text(plain(value, limit, newlines=True))
    if value is not None and len(str(value)) > limit:
        full_text(value, name=name)


def labelled(label: str, value: Any, *, limit: int = DETAIL_LIMIT) -> None:
    """ "label: value" as plain text (the label is ours, the value may be an attacker's)."""
    shown = "" if value is None else value
    st.text(plain(f"{label}: {shown}", limit + len(label) + 2, newlines=True))
    if len(str(shown)) > limit:
        full_text(shown, name=label)


def _full_cells(data: pd.DataFrame, limit: int) -> None:
    cells = _cut_cells(data, limit)
    if not cells:
        return
    body = "\n\n".join(f"{where}:\n{value[:DOWNLOAD_LIMIT]}" for where, value in cells.items())
    digest = hashlib.sha256(body[:4096].encode("utf-8", "replace")).hexdigest()[:16]
    _download(
        md(f"Full text of {len(cells)} cut cell(s)", 200),
        lambda: visible(body, newlines=True),
        digest,
        f"tokensentry-cells-{digest}.txt",
    )


def table(
    data: pd.DataFrame,
    *,
    empty: str = "Nothing here.",
    max_rows: int = 200,
    highlight: pd.Series | None = None,
    style: str = "",
) -> None:
    """A small static table (text the browser and a test can read): `st.table` renders each
    cell as Markdown, so every text cell goes through `md`; rows where `highlight` is true are
    tinted with `style`. Larger lists go to `grid`."""
    if data.empty:
        st.caption(md(empty, 200))
        return
    head = data.head(max_rows)
    shown = frame(head, markdown=True)
    if highlight is None:
        st.table(shown)
    else:
        marked = highlight.head(max_rows).reset_index(drop=True).astype(bool)
        st.table(
            shown.style.apply(lambda row: [style if marked[row.name] else ""] * len(row), axis=1)
        )
    if len(data) > max_rows:
        st.caption(f"first {max_rows} of {len(data):,} rows")
    _full_cells(head, CELL_LIMIT)


def grid(data: pd.DataFrame, *, key: str | None = None, **kwargs: Any) -> Any:
    """An interactive data grid: cells are drawn as text (no Markdown), made `plain`."""
    event = st.dataframe(frame(data), hide_index=True, key=key, width="stretch", **kwargs)
    _full_cells(data.head(1000), CELL_LIMIT)
    return event


def json(value: Any, *, expanded: bool | int = 2) -> None:
    """A JSON viewer (values stay text) over `json_value`: keys and strings made `plain`."""
    st.json(json_value(value or {}), expanded=expanded)
