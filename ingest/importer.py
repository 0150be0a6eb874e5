"""`tokensentry import`: load exported files or folders into the store, one run row per file.

A file that cannot be read fails alone; rows that cannot be loaded are quarantined with file,
line and reason while the rest of the file loads; importing the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import json
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from . import runs
from .errors import InputError
from .formats import elf_csv
from .formats.fields import MissingOrg
from .formats.jsonio import BadLine, read_json_records
from .formats.records import (
    RecordProblem,
    classify,
    describe_shape,
    elf_row,
    normalizer_for,
)
from .formats.redact import redact, redacted_row
from .formats.sniff import FileKind, record_csv_kind, sniff
from .load import BatchResult, Loader, Problem, StagedRecord
from .sfid import is_salesforce_id, to18

RECORD_BATCH = 100_000


@dataclass
class FileOutcome:
    path: Path
    kind: str | None
    status: str  # ok | partial | failed
    result: BatchResult = field(default_factory=BatchResult)
    error: str | None = None


@dataclass
class ImportSummary:
    run_id: str
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def totals(self) -> BatchResult:
        total = BatchResult()
        for outcome in self.files:
            total.add(outcome.result)
        return total

    @property
    def failed(self) -> bool:
        return any(outcome.status != "ok" for outcome in self.files)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and every regular file below folders named (hidden ones skipped), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.exists():
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def import_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[Path],
    *,
    org_id: str | None,
    run_id: str,
    now: Callable[[], datetime],
    on_file: Callable[[FileOutcome], None] | None = None,
) -> ImportSummary:
    if org_id is not None:
        if not is_salesforce_id(org_id):
            raise InputError(f"--org {org_id!r}: not a 15- or 18-character Salesforce org id")
        org_id = to18(org_id)
    summary = ImportSummary(run_id=run_id)
    for path in expand(paths):
        unit = str(path)
        runs.start(con, run_id=run_id, stage="import", unit_id=unit, now=now(), org_id=org_id)
        outcome = import_file(Loader(con, run_id=run_id, now=now()), path, default_org=org_id)
        runs.finish(
            con,
            run_id=run_id,
            stage="import",
            unit_id=unit,
            status=outcome.status,
            now=now(),
            rows_read=outcome.result.rows_read,
            rows_new=outcome.result.rows_new,
            rows_quarantined=outcome.result.rows_quarantined,
            error=outcome.error,
            details={
                "kind": outcome.kind,
                "events_new": outcome.result.events_new,
                "events_enriched": outcome.result.events_enriched,
            },
        )
        summary.files.append(outcome)
        if on_file:
            on_file(outcome)
    return summary


def import_file(loader: Loader, path: Path, *, default_org: str | None) -> FileOutcome:
    kind: str | None = None
    try:
        file_kind, header = sniff(path)
        kind = file_kind.value
        if file_kind is FileKind.ELF_CSV:
            result = elf_csv.load_file(loader, path, default_org=default_org)
        elif file_kind is FileKind.RECORD_CSV:
            result = _load_records(loader, path, _record_csv(path, header), default_org)
        else:
            result = _load_records(loader, path, _json_items(path), default_org)
    except InputError as exc:
        return FileOutcome(path, kind, "failed", error=str(exc))
    except (OSError, UnicodeError) as exc:
        return FileOutcome(path, kind, "failed", error=f"{path}: cannot read: {exc}")
    except Exception as exc:  # a bug must not stop the other files; keep the evidence
        detail = "".join(traceback.format_exception_only(exc)).strip()
        return FileOutcome(path, kind, "failed", error=f"{path}: internal error: {detail}")
    status = "partial" if result.rows_quarantined else "ok"
    return FileOutcome(path, kind, status, result)


Item = tuple[int | None, str | None, object] | Problem


def _json_items(path: Path) -> Iterator[Item]:
    for entry in read_json_records(path):
        if isinstance(entry, BadLine):
            yield Problem(entry.line, entry.reason, entry.text)
            continue
        line, record = entry
        kind = classify(record)
        if kind is None:
            yield Problem(line, describe_shape(record), _preview(record))
        else:
            yield (line, kind, record)


def _record_csv(path: Path, header: list[str]) -> Iterator[Item]:
    kind = record_csv_kind(header)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        names = next(reader)
        start = reader.line_num + 1
        for values in reader:
            if len(values) != len(names):
                yield Problem(
                    start,
                    f"expected {len(names)} columns, found {len(values)}",
                    redacted_row(names, values),
                )
            else:
                yield (start, kind, dict(zip(names, values, strict=True)))
            start = reader.line_num + 1


def _load_records(
    loader: Loader, path: Path, items: Iterator[Item], default_org: str | None
) -> BatchResult:
    result = BatchResult()
    staged: list[StagedRecord] = []
    elf_rows: list[dict[str, object]] = []
    problems: list[Problem] = []
    origin, input_key = str(path), str(path.resolve())

    def flush() -> None:
        result.add(loader.load_records(staged, origin=origin))
        staged.clear()

    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        line, kind, record = item
        if kind == "elf":
            elf_rows.append({**elf_row(record), "_line": line})  # type: ignore[arg-type]
            continue
        try:
            row = normalizer_for(kind)(record, default_org, line)  # type: ignore[arg-type]
        except RecordProblem as exc:
            problems.append(Problem(line, f"{kind}: {exc}", _preview(record)))
            continue
        except MissingOrg:
            raise InputError(
                f"{path}: {kind} records carry no org id; re-run with --org ORG_ID "
                "(the 15- or 18-character id of the org the file was exported from)"
            ) from None
        # Cut batches only between seconds, so login ordinals never straddle two batches.
        if len(staged) >= RECORD_BATCH and staged[-1].occurred_at != row.occurred_at:
            flush()
        staged.append(row)
    flush()
    if elf_rows:
        result.add(_load_elf_rows(loader, path, elf_rows, default_org))
    result.rows_read += len(problems)
    result.rows_quarantined += loader.quarantine(origin, input_key, problems)
    return result


def _load_elf_rows(
    loader: Loader, path: Path, rows: list[dict[str, object]], default_org: str | None
) -> BatchResult:
    columns: list[str] = []
    for row in rows:
        for name in row:
            if name != "_line" and name not in columns:
                columns.append(name)
    table = pa.table(
        {
            **{name: pa.array([row.get(name) for row in rows], pa.string()) for name in columns},
            "_line": pa.array([row["_line"] for row in rows], pa.int64()),
        }
    )
    con = loader.con
    con.register("elf_rows_arrow", table)
    try:
        return loader.load_elf(
            "elf_rows_arrow",
            columns,
            origin=str(path),
            input_key=str(path.resolve()),
            default_org=default_org,
            has_line=True,
        )
    finally:
        con.unregister("elf_rows_arrow")


def _preview(record: object) -> str:
    try:
        return json.dumps(redact(record), default=str)[:4000]
    except (TypeError, ValueError):
        return repr(record)[:4000]
