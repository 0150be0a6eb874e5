"""The evidence pack's Markdown renders attacker text as text (issue 19).

`summary.md` is opened in a Markdown viewer (a ticket, GitHub, an IDE preview). Rendered with
a real CommonMark renderer (markdown-it-py, with raw HTML allowed: the worst case), it must
show no image, no link but the one to tokensentry's own dashboard, no HTML tag from data, no
hidden character and no `nan`.
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
from markdown_it import MarkdownIt

from dashboard import evidence_pack
from dashboard.queries.investigation import Scope

DASHBOARD = "https://tokensentry.example.org"
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "![pixel](//evil.example/p.png)",
    "[click](//evil.example/login)",
    "<https://evil.example/a>",
    "https://evil.example/b www.evil.example",
    "<script>alert(2)</script><b>bold</b>",
    "`` `x` ``` ` <i>in code</i>",
    "a | b | c",
    "# heading\n* list\n> quote",
    "[ref]: //evil.example/r\n[ref]",
    "\x1b[2Jterm\u202ebidi\u200bzw",
    "javascript:alert(3)",
    "trailing backslash \\",
]
ALLOWED_TAGS = {
    "h1",
    "h2",
    "p",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "a",
}


def _pack(tmp_path, text: str) -> str:
    at = datetime(2026, 11, 1, 9, 30)
    scope = Scope(
        kind="incident", target_id=f"inc-1 {text}", severity="high", summary=f"App {text} did it",
        alert_ids=["a1"], org_ids=["00D5g000004XyZaEAK", text], ips=["198.51.100.7", text],
        user_ids=[text], apps=[text, "Acme Sync"], first_seen=at, last_seen=at,
        detectors=["suspicious_client", text], trusted_ips=[text],
        usernames={text: f"{text}@evil.example"},  # a username the logs carried
    )  # fmt: skip
    events = pd.DataFrame(
        {
            "event_id": ["e1", "e2"], "org_id": ["00D5g000004XyZaEAK", text],
            "occurred_at": [pd.Timestamp(at), pd.NaT], "source_ip": ["198.51.100.7", None],
            "app": [text, None], "user_agent": [text, float("nan")],
        }
    )  # fmt: skip
    alerts = pd.DataFrame(
        {
            "alert_id": ["a1", text], "detector": ["suspicious_client", text],
            "severity": ["high", text], "org_id": [text, None], "summary": [text, float("nan")],
        }
    )  # fmt: skip
    chain = pd.DataFrame(
        {
            "at": [pd.Timestamp(at), pd.NaT], "worker": [text, None], "presented": [text, None],
            "returned": [None, text], "ip": [text, "198.51.100.7"], "outcome": ["refused", text],
        }
    )  # fmt: skip
    labels = {"00D5g000004XyZaEAK": f"Acme {text}"}
    pack = evidence_pack.write(tmp_path, scope, events, alerts, chain, labels, DASHBOARD)
    return pack.summary.read_text()


def _render(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def test_hostile_values_render_as_text(tmp_path):
    for number, text in enumerate(HOSTILE):
        markdown = _pack(tmp_path / str(number), text)
        rendered = _render(markdown)
        assert "@evil[.]example" in markdown, text  # the username is listed, defanged
        assert "<img" not in rendered, text
        hrefs = re.findall(r"<a\s[^>]*href=\"([^\"]*)\"", rendered)
        assert hrefs == [f"{DASHBOARD}/incident?id=" + hrefs[0].rsplit("=", 1)[-1]], (text, hrefs)
        tags = {tag.lower() for tag in re.findall(r"</?([A-Za-z][A-Za-z0-9]*)", rendered)}
        assert tags <= ALLOWED_TAGS, (text, tags - ALLOWED_TAGS)
        # What an autolinking renderer (GFM, mail) would turn into a link is defanged.
        visible = re.sub(r"<[^>]+>", "", rendered)
        assert not re.search(r"(?i)https?:|www\.|evil\.example", visible), text
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e\u200b]", markdown), text
        assert "nan" not in re.findall(r"\b\w+\b", visible.lower()), text


def test_a_pack_without_a_dashboard_links_nowhere_and_prints_dashes_for_missing(tmp_path):
    at = datetime(2026, 11, 1, 9, 30)
    scope = Scope(
        kind="alert", target_id="a1", severity="low", summary="quiet", alert_ids=["a1"],
        org_ids=[], ips=[], user_ids=[], apps=[], first_seen=at, last_seen=at,
    )  # fmt: skip
    empty = pd.DataFrame(columns=["event_id", "org_id", "occurred_at", "source_ip"])
    alerts = pd.DataFrame(
        {"alert_id": ["a1"], "detector": ["x"], "severity": [None], "org_id": [None],
         "summary": [float("nan")]}
    )  # fmt: skip
    markdown = evidence_pack.write(tmp_path, scope, empty, alerts, pd.DataFrame(), {}).summary
    rendered = _render(markdown.read_text())
    assert "<a " not in rendered and "nan" not in markdown.read_text().lower().split()
    assert "| `a1` | `x` | - | - | - |" in markdown.read_text()


def test_code_spans_outfence_backticks_in_the_value():
    assert evidence_pack._code("a`b``c") == "```a`b``c```"
    assert evidence_pack._code("`x") == "`` `x ``"
    assert _render(evidence_pack._code("<b>`x`</b>")).count("<code>") == 1
