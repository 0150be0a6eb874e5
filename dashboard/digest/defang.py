"""Make attacker-controlled text inert in a mail: no link, no hidden or reordered characters.

App names, user agents, usernames, summaries and error texts come from Salesforce logs or from
whoever can make a request to an org, so a digest that printed them verbatim would let an
attacker send the security team a clickable link under tokensentry's name. Both parts of the
mail therefore carry every such string defanged the way threat reports write indicators:
`hxxps://evil[.]example/login`. Mail clients autolink `http://`, `www.` and bare domains;
none of them autolinks `hxxp` or `[.]`, and an analyst can still read and search the text.
"""

from __future__ import annotations

import re

MAX_FIELD = 300  # a 10 kB user agent would push the rest of the digest off a phone screen

# C0 and C1 controls, DEL, and the characters that reorder or hide text: bidi embeddings and
# overrides (U+202A-U+202E), isolates (U+2066-U+2069), marks (U+200E, U+200F, U+061C) and
# zero-width characters (U+200B-U+200D, U+2060, U+FEFF) that split a word a filter would see.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_WHITESPACE_CONTROLS = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
_SCHEME = re.compile(r"(?i)\b(h)tt(ps?)(:)|\b(f)t(p)(:)")
# A host name: labels of letters, digits and hyphens joined by dots, ending in a label of at
# least two characters that starts with a letter (so 203.0.113.9 and 1.12.10 stay as they are).
_DOMAIN = re.compile(r"(?<![\w-])(?:[^\W_][\w-]*\.)+[^\W\d_][\w-]*[^\W_](?![\w-])")


def clean(text: object) -> str:
    """One line of text with every control and bidi/zero-width character removed."""
    value = _WHITESPACE_CONTROLS.sub(" ", str(text))
    return _INVISIBLE.sub("", value).strip()


def defang(text: object, limit: int = MAX_FIELD) -> str:
    """`clean`, then URLs and domains rewritten so that no mail client makes them a link."""
    value = clean(text)
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    value = _SCHEME.sub(_defang_scheme, value)
    return _DOMAIN.sub(lambda match: match.group(0).replace(".", "[.]"), value)


def _defang_scheme(match: re.Match[str]) -> str:
    if match.group(1):
        return f"{match.group(1)}xx{match.group(2)}[:]"
    return f"{match.group(4)}x{match.group(5)}[:]"
