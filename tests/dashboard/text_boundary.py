"""A static check (AST) that the dashboard's pages hand Streamlit only text that crossed the one
text boundary, `dashboard/web/safe_text.py` (issue 19).

Every argument a Streamlit element shows must be ours (a literal, an UPPER_CASE constant, a
number, an f-string of those) or the result of a boundary helper fit for that element:

- elements that render Markdown (titles, captions, alerts, labels, help, table cells) take
  `md` (or `literal`, `product_markdown`);
- elements that show plain text (`st.text`, metric values) take `md` or `plain`;
- tables, grids, JSON viewers, charts (`alt.Chart(...)`) and maps (`pdk.Layer(data=...)`) take
  a frame or value from `frame`, `chart_frame` or `json_value`;
- select boxes over data take a `format_func` from the boundary (`option`, `plain`, `md`);
- raw HTML, images, audio, video and iframes are not used at all.

The boundary module itself is exempt; `writes.py` and `serve.py` show nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "dashboard" / "web"
EXEMPT = {"safe_text.py", "writes.py", "serve.py"}

MD_HELPERS = {"md", "literal", "product_markdown"}
PLAIN_HELPERS = MD_HELPERS | {"plain", "option", "visible"}
DATA_HELPERS = {"frame", "chart_frame", "json_value"}
NUMBERS = {"len", "int", "float", "round", "sum", "min", "max"}
NOT_STREAMLIT = {
    "ui", "safe_text", "detail", "queries", "writes", "pd", "np", "alt", "pdk", "registry",
    "re", "json", "os", "str", "contextlib", "time", "config_module", "db", "Path", "path",
}  # fmt: skip

MARKDOWN_SINKS = {
    "markdown", "write", "write_stream", "caption", "title", "header", "subheader", "info",
    "warning", "error", "success", "toast", "exception", "latex", "badge", "expander",
    "popover", "button", "download_button", "form_submit_button", "link_button", "checkbox",
    "toggle", "text_input", "text_area", "number_input", "date_input", "time_input", "slider",
    "file_uploader", "color_picker", "radio", "selectbox", "multiselect", "segmented_control",
    "pills", "select_slider", "metric", "chat_message", "feedback", "set_page_config", "Page",
}  # fmt: skip
MARKDOWN_KEYWORDS = {"label", "body", "help", "placeholder", "page_title", "title", "caption"}
OPTION_SINKS = {"radio", "selectbox", "multiselect", "segmented_control", "pills", "select_slider"}
DATA_SINKS = {
    "table", "dataframe", "data_editor", "json", "area_chart", "bar_chart", "line_chart",
    "scatter_chart",
}  # fmt: skip
FORBIDDEN = {"html", "image", "audio", "video", "iframe", "logo", "ImageColumn", "pyplot"}
NUMERIC_SPEC = re.compile(r"^[,_]?(\.\d+)?[dfeg%]?$|%")


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _helper_call(node: ast.AST, helpers: set[str]) -> bool:
    return isinstance(node, ast.Call) and _name(node.func) in helpers


def ours(node: ast.AST | None, helpers: set[str]) -> bool:
    """The expression is the product's own text, or went through one of `helpers`."""
    if node is None or isinstance(node, ast.Constant):
        return True
    if _helper_call(node, helpers) or _helper_call(node, NUMBERS):
        return True
    if isinstance(node, ast.Name | ast.Attribute):
        return (_name(node) or "").isupper()  # a module constant such as GEO_ATTRIBUTION
    if isinstance(node, ast.JoinedStr):
        return all(ours(value, helpers) for value in node.values)
    if isinstance(node, ast.FormattedValue):
        spec = node.format_spec
        constant = isinstance(spec, ast.JoinedStr) and all(
            isinstance(v, ast.Constant) for v in spec.values
        )
        if constant and NUMERIC_SPEC.search("".join(str(v.value) for v in spec.values)):
            return True  # a number or a date: a str would not format
        return ours(node.value, helpers)
    if isinstance(node, ast.BinOp):
        return ours(node.left, helpers) and ours(node.right, helpers)
    if isinstance(node, ast.IfExp):
        return ours(node.body, helpers) and ours(node.orelse, helpers)
    if isinstance(node, ast.List | ast.Tuple):
        return all(ours(element, helpers) for element in node.elts)
    if isinstance(node, ast.Starred):
        return ours(node.value, helpers)
    return False


def _data(node: ast.AST | None) -> bool:
    return node is None or _helper_call(node, DATA_HELPERS)


def _arg(call: ast.Call, index: int, keyword: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def _format_func_ok(call: ast.Call) -> bool:
    func = _arg(call, 99, "format_func")
    if func is None:
        return False
    if isinstance(func, ast.Lambda):
        return _helper_call(func.body, PLAIN_HELPERS)
    return _name(func) in PLAIN_HELPERS


def _options_ours(options: ast.AST | None) -> bool:
    if isinstance(options, ast.Call) and _name(options.func) in {"list", "tuple", "sorted"}:
        return all(ours(arg, set()) for arg in options.args)
    return ours(options, set())


def violations_in(source: str, filename: str = "<page>") -> Iterator[str]:
    """Every call in `source` that could show untrusted text other than through the boundary."""
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        where = f"{filename}:{node.lineno}"
        called = _name(node.func)
        root = _root(node.func) if isinstance(node.func, ast.Attribute) else None
        if called == "Chart" and root == "alt" and not _data(_arg(node, 0, "data")):
            yield f"{where}: alt.Chart over data not from safe_text.chart_frame"
        if called == "Layer" and root == "pdk" and not _data(_arg(node, 99, "data")):
            yield f"{where}: pdk.Layer over data not from safe_text.chart_frame"
        if not isinstance(node.func, ast.Attribute) or root in NOT_STREAMLIT:
            continue
        if called in FORBIDDEN:
            yield f"{where}: st.{called} can render remote or raw content"
        for kw in node.keywords:
            if kw.arg == "unsafe_allow_html" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                yield f"{where}: unsafe_allow_html"
        if (called in DATA_SINKS or (called == "map" and root == "st")) and not _data(
            _arg(node, 0, "data" if called != "json" else "body")
        ):
            yield f"{where}: st.{called} over data not from safe_text (frame/json_value)"
        if called == "text" and not ours(_arg(node, 0, "body"), PLAIN_HELPERS):
            yield f"{where}: st.text of a value not through safe_text.plain"
        if called == "metric":
            for index, keyword in ((1, "value"), (2, "delta")):
                if not ours(_arg(node, index, keyword), PLAIN_HELPERS):
                    yield f"{where}: st.metric {keyword} not through safe_text"
        if called == "tabs" and not ours(_arg(node, 0, "tabs"), MD_HELPERS):
            yield f"{where}: st.tabs labels not through safe_text.md"
        if called in MARKDOWN_SINKS:
            label_index = 1 if called == "page_link" else 0
            shown = [_arg(node, label_index, "label")] if called not in {"Page"} else []
            shown += [kw.value for kw in node.keywords if kw.arg in MARKDOWN_KEYWORDS]
            if called in {"write", "markdown", "caption"}:
                shown += node.args[1:]
            if not all(ours(value, MD_HELPERS) for value in shown):
                yield f"{where}: st.{called} shows Markdown not through safe_text.md"
        if called == "page_link" and not ours(_arg(node, 1, "label"), MD_HELPERS):
            yield f"{where}: st.page_link label not through safe_text.md"
        if (
            called in OPTION_SINKS
            and not _options_ours(_arg(node, 1, "options"))
            and not _format_func_ok(node)
        ):
            yield f"{where}: st.{called} over data options without format_func=safe_text.option"


def violations() -> list[str]:
    found: list[str] = []
    for path in sorted(WEB.rglob("*.py")):
        if path.name in EXEMPT:
            continue
        found += violations_in(path.read_text(), str(path.relative_to(WEB.parent.parent)))
    return found
