"""Ingest progress: a live bar per org × source on a terminal, one line per unit in a pipe."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ingest.ingestion import UnitOutcome

from . import console as output

STATUS_COLOUR = {"ok": "green", "partial": "yellow", "not_available": "dim", "skipped": "yellow"}


class IngestProgress:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.console = output.stderr()
        self.live = enabled and sys.stderr.isatty()
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[tuple[str, str], int] = {}

    def __enter__(self) -> IngestProgress:
        if self.live:
            self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live:
            self.progress.stop()

    def update(self, what: str, unit: UnitOutcome) -> None:
        if not self.enabled:
            return
        key = (unit.alias, unit.source)
        if self.live:
            if what == "start":
                self.tasks[key] = self.progress.add_task(
                    f"{unit.alias}/{unit.source}", total=None, rows=0
                )
            elif what == "batch":
                self.progress.update(self.tasks[key], rows=unit.result.rows_read)
            else:
                self.progress.update(
                    self.tasks[key],
                    total=1,
                    completed=1,
                    description=f"{unit.alias}/{unit.source} {unit.status}",
                )
        if what == "end":
            r = unit.result
            colour = STATUS_COLOUR.get(unit.status, "red")
            detail = (
                f"{r.rows_read} rows, {r.rows_new} new, {r.rows_quarantined} quarantined, "
                f"events +{r.events_new} / {r.events_enriched} enriched ({unit.seconds:.1f} s)"
            )
            if unit.error:
                detail += f": {unit.error}"
            self.console.print(
                f"[{colour}]{unit.status:13}[/] {unit.alias}/{unit.source}: {detail}",
                highlight=False,
            )
            for note in unit.notes:  # Salesforce text: printed as text, never as markup
                self.console.print(
                    f"{'':13} {note.kind}: {note.message}", markup=False, highlight=False
                )
