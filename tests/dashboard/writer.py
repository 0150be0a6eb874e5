"""Another process holding DuckDB's single-writer lock, as `ingest` or `detect` does."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


@contextlib.contextmanager
def hold_write_lock(store: Path, *, seconds: float) -> Iterator[subprocess.Popen]:
    """Hold the lock for `seconds` from a separate process; the block runs meanwhile."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.wait(timeout=seconds + 30)
