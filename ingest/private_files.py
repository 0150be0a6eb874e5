"""Files only their owner can read: the store, its WAL and spill files, downloaded log files,
written e-mails.

The store holds who logged in from where and every app's token activity; a downloaded
EventLogFile holds the same before it is redacted. Every tokensentry process creates files
with an owner-only umask (`restrict_umask`), which covers files other libraries create later
(DuckDB's `.wal`, appears at the first write; its spill files); files and folders that already
exist are tightened with `make_private`. Surfaces that write their own files (the digest's
`.eml` writer) use `write_private` / `private_dir`.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
OWNER_ONLY_UMASK = 0o077


def restrict_umask() -> int:
    """Make every file this process creates from now on owner-only; return the old umask.

    The umask is per process, so this is called once at start (CLI entry, store open) rather
    than around each creation: DuckDB creates its WAL and spill files later, on its own threads.
    """
    old = os.umask(OWNER_ONLY_UMASK)
    os.umask(old | OWNER_ONLY_UMASK)  # keep anything stricter the user already asked for
    return old


@contextlib.contextmanager
def owner_only_umask() -> Iterator[None]:
    """Owner-only creation for a block, then the previous umask (library callers, tests)."""
    old = os.umask(OWNER_ONLY_UMASK)
    try:
        yield
    finally:
        os.umask(old)


def make_private(path: Path) -> None:
    """chmod an existing file to 0600 or folder to 0700; missing paths are left alone."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    path.chmod(DIR_MODE if stat.S_ISDIR(mode) else FILE_MODE)


def private_dir(path: Path) -> Path:
    """Create (or tighten) a folder only its owner can enter."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DIR_MODE)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write `data` to `path` as a 0600 file, whatever the umask and whether it existed."""
    payload = data.encode() if isinstance(data, str) else data
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)  # O_CREAT's mode is ignored for an existing file
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            handle.write(payload)
    finally:
        os.close(descriptor)
    return path


def is_owner_only(path: Path) -> bool:
    """True when neither group nor others have any permission on `path`."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
