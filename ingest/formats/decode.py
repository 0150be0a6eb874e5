"""Undo every escape of a text, keeping where each decoded character came from.

Percent (URL) escapes, backslash escapes (JSON `\\"`, `\\u0022`, JavaScript `\\x3d`) and HTML
entities (`&quot;`, `&#61;`, `&#x3D;`), all in one pass, repeated (double encoding). The
positions let `redact` replace the raw characters a secret in the decoded text came from.
"""

from __future__ import annotations

import html.entities
import re

# One escape of any kind: percent (URL), backslash (JSON, JavaScript, Python) or HTML entity.
_ESCAPE = re.compile(
    r"%(?P<pct>[0-9A-Fa-f]{2})"
    r"|\\(?:u(?P<u>[0-9A-Fa-f]{4})|x(?P<x>[0-9A-Fa-f]{2})|(?P<c>[\"'\\/bfnrt]))"
    r"|&(?:#(?P<dec>[0-9]{1,7});?|#[xX](?P<hex>[0-9A-Fa-f]{1,6});?|(?P<name>[A-Za-z][A-Za-z0-9]{1,31};))"
)
_BACKSLASH = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_DECODE_ROUNDS = 4  # `%25253D` is three rounds; a fourth catches one more layer of mixing


def decoded(text: str) -> tuple[str, list[int]]:
    """`text` with every escape undone (up to `_DECODE_ROUNDS` rounds), and for each decoded
    character (and the end) the index in `text` it came from."""
    places = list(range(len(text) + 1))
    for _ in range(_DECODE_ROUNDS):
        once, local = _decode_once(text)
        if once == text:
            break
        text, places = once, [places[i] for i in local]
    return text, places


def _decode_once(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    places: list[int] = []
    pending: list[tuple[int, int]] = []  # percent-encoded bytes not yet decoded: (byte, place)
    position = 0

    def flush() -> None:
        if not pending:
            return
        chars = bytes(b for b, _ in pending).decode("utf-8", errors="replace")
        if len(chars) == len(pending):
            for char, (_, place) in zip(chars, pending, strict=True):
                out.append(char)
                places.append(place)
        else:  # multi-byte characters: each placed at the start of its byte group
            for char in chars:
                out.append(char)
                places.append(pending[0][1])
        pending.clear()

    for match in _ESCAPE.finditer(text):
        if match.start() != position:
            flush()
            out.append(text[position : match.start()])
            places.extend(range(position, match.start()))
        position = match.end()
        if match["pct"]:
            pending.append((int(match["pct"], 16), match.start()))
            continue
        flush()
        char = _unescape(match)
        if char is None:
            char = match.group()
            places.extend(range(match.start(), match.end()))
            out.append(char)
            continue
        out.append(char)
        places.extend([match.start()] * len(char))
    flush()
    out.append(text[position:])
    places.extend(range(position, len(text) + 1))
    return "".join(out), places


def _unescape(match: re.Match[str]) -> str | None:
    try:
        if match["u"]:
            return chr(int(match["u"], 16))
        if match["x"]:
            return chr(int(match["x"], 16))
        if match["c"]:
            return _BACKSLASH.get(match["c"], match["c"])
        if match["dec"]:
            return chr(int(match["dec"]))
        if match["hex"]:
            return chr(int(match["hex"], 16))
    except (ValueError, OverflowError):
        return None
    return html.entities.html5.get(match["name"])
