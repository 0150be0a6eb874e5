"""What a batch load reports, and a row that cannot be loaded (shared by every loader)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BatchResult:
    rows_read: int = 0
    rows_new: int = 0
    rows_quarantined: int = 0
    events_new: int = 0
    events_enriched: int = 0

    def add(self, other: BatchResult) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Problem:
    """A row that cannot be loaded: where it is, why, and its text as read."""

    line: int | None
    reason: str
    raw_text: str | None = None
    record_index: int | None = None  # position in an API page, where there is no line


SALESFORCE_IP_MARKER = "salesforce.com ip"
"""Lower-cased: what Salesforce documents in place of an IP for its own internal requests."""
