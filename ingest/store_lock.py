"""Sharing the store between the pipeline and the dashboard without failing or losing anything.

DuckDB allows one process to open a file read-write, or many to open it read-only, never both,
and a refused open fails at once (there is no blocking open). So:

- Every read-write open first takes the *writer gate*: an exclusive `flock` on `<store>.writer`
  beside the file, held until the connection closes. The kernel drops it when the process ends,
  however it ends, so a crash never leaves it behind. The gate file says who holds it
  (pid, host, command, since), for the message another writer prints while it waits.
- A writer that finds the gate held, or DuckDB's lock taken (a dashboard read in flight, a
  notebook), waits: it polls, says once on stderr who holds the store and for how long it will
  wait, and gives up after a bound (`TOKENSENTRY_STORE_WAIT` seconds, default 600) with an
  error that names the holder and what to do.
- The dashboard never waits (`wait=0`): its reads check the gate first and back off while a
  writer holds or wants the store, so a stream of short reads cannot starve the pipeline; its
  writes take the gate without waiting and queue the decision when they cannot.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from .errors import TokensentryError

WAIT_ENV = "TOKENSENTRY_STORE_WAIT"
DEFAULT_WAIT_S = 600.0
POLL_S = (0.05, 0.1, 0.2, 0.5, 1.0)  # then every second


class StoreBusyError(TokensentryError):
    """Another process holds the store (DuckDB allows one writer, or readers, never both)."""


def default_wait() -> float:
    """How long a pipeline command waits for the store: `TOKENSENTRY_STORE_WAIT` seconds."""
    text = os.environ.get(WAIT_ENV, "").strip()
    if not text:
        return DEFAULT_WAIT_S
    try:
        value = float(text)
    except ValueError:
        raise TokensentryError(f"{WAIT_ENV}={text!r}: not a number of seconds") from None
    return max(value, 0.0)


def gate_path(db_path: Path) -> Path:
    absolute = Path(os.path.abspath(db_path))
    return absolute.with_name(absolute.name + ".writer")


def _describe_pid(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    words = [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]
    return f"pid {pid} ({shlex.join(_short_command(words))})" if words else f"pid {pid}"


def _short_command(words: list[str]) -> list[str]:
    """`python -m dashboard.cli --db x detect` -> `tokensentry --db x detect`: readable."""
    for index, word in enumerate(words):
        if word.endswith("tokensentry"):
            return ["tokensentry", *words[index + 1 :]][:12]
        if word == "dashboard.cli" or word.endswith("streamlit"):
            name = "tokensentry" if word == "dashboard.cli" else "streamlit"
            return [name, *words[index + 1 :]][:12]
    return [Path(words[0]).name, *words[1:]][:12]


def holder_note() -> str:
    """What the gate file says about its holder: this process."""
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{_describe_pid(os.getpid())} on {socket.gethostname()} since {since}"


def _gate_holder(path: Path) -> str:
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text.splitlines()[0][:300]
    return "another tokensentry process"


_DUCKDB_PID = re.compile(r"\(PID (\d+)\)")


def duckdb_holder(message: str) -> str:
    """DuckDB's lock error names one conflicting process: describe it."""
    found = _DUCKDB_PID.search(message)
    return _describe_pid(int(found.group(1))) if found else "another process"


# --- the gate ---------------------------------------------------------------------------------

# A process that holds the gate for a store may open it again (nested or parallel connections
# of one process, e.g. the dashboard's threads): DuckDB shares one database instance then.
_held: dict[Path, list[int]] = {}  # resolved gate path -> [fd, users]
_held_lock = threading.Lock()


def _try_gate(path: Path) -> bool:
    with _held_lock:
        entry = _held.get(path)
        if entry is not None:
            entry[1] += 1
            return True
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, (holder_note() + "\n").encode(), 0)
        _held[path] = [descriptor, 1]
        return True


def _release_gate(path: Path) -> None:
    with _held_lock:
        entry = _held.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[path]
        with contextlib.suppress(OSError):
            os.ftruncate(entry[0], 0)
        fcntl.flock(entry[0], fcntl.LOCK_UN)
        os.close(entry[0])


def writer_waiting(db_path: Path) -> str | None:
    """Who holds the gate (a writer is at work or about to be), or None. Readers call this
    and back off, so the pipeline gets in between the dashboard's reads."""
    path = gate_path(db_path)
    with _held_lock:
        if path in _held:
            return "this process"
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _gate_holder(path)
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


Say = Callable[[str], None]


def say_on_stderr(message: str) -> None:
    sys.stderr.write(f"tokensentry: {message}\n")
    sys.stderr.flush()


class Waiter:
    """The bounded wait of one open: says once who holds the store, then polls until the
    deadline, then raises StoreBusyError naming the holder and what to do."""

    def __init__(self, db_path: Path, wait_s: float, say: Say | None) -> None:
        self.db_path = db_path
        self.wait_s = wait_s
        self.say = say or say_on_stderr
        self.deadline = time.monotonic() + wait_s
        self.polls = 0
        self.announced = False

    def pause(self, holder: str) -> None:
        """Sleep before the next try, or raise when the bound has passed."""
        if time.monotonic() >= self.deadline:
            if self.wait_s <= 0:
                raise StoreBusyError(f"{self.db_path}: the database is in use by {holder}")
            raise StoreBusyError(
                f"{self.db_path}: the database is still in use by {holder} after waiting "
                f"{self.wait_s:.0f} s; let that finish (or stop it) and run this again, or wait "
                f"longer with {WAIT_ENV}=SECONDS"
            )
        if not self.announced:
            self.announced = True
            self.say(
                f"{self.db_path}: the database is in use by {holder}; waiting for it "
                f"(up to {self.wait_s:.0f} s, {WAIT_ENV})"
            )
        pause = POLL_S[min(self.polls, len(POLL_S) - 1)]
        self.polls += 1
        time.sleep(max(0.0, min(pause, self.deadline - time.monotonic())))

    def done(self) -> None:
        if self.announced:
            self.say(f"{self.db_path}: got the database, going on")


@contextlib.contextmanager
def writer_gate(db_path: Path, waiter: Waiter) -> Iterator[None]:
    """Hold the store's writer gate for the block, waiting (bounded) while another has it."""
    path = gate_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while not _try_gate(path):
        waiter.pause(_gate_holder(path))
    try:
        yield
    finally:
        _release_gate(path)
