"""The lock that makes one worker refresh while the others wait (across processes and hosts).

`RefreshLock` is the interface: anything whose `hold(key)` is a context manager held by one
worker at a time. `FileRefreshLock` is the default for workers on one host: `flock` on one file
per key, which the OS releases when the holder dies, even by SIGKILL. Workers on several hosts
plug in a shared lock instead, e.g. Redis (redis-py's `Lock` is a context manager):

    class RedisRefreshLock:
        def __init__(self, redis): self.redis = redis
        def hold(self, key):
            return self.redis.lock(f"refresh:{key.digest()}", timeout=60, blocking_timeout=60)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from .errors import RefreshError
from .store import TokenKey


class RefreshLock(Protocol):
    def hold(self, key: TokenKey) -> AbstractContextManager[object]: ...


class FileRefreshLock:
    """`flock(LOCK_EX)` on `folder/<key>.lock`; waits at most `timeout_s`."""

    def __init__(self, folder: str | os.PathLike[str], timeout_s: float = 120.0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.timeout_s = timeout_s

    @contextlib.contextmanager
    def hold(self, key: TokenKey) -> Iterator[None]:
        fd = os.open(self.folder / f"{key.digest()[:32]}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self.timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RefreshError(
                            f"{key.label()}: waited {self.timeout_s:.0f} s for the refresh lock"
                        ) from None
                    time.sleep(0.01)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class ThreadRefreshLock:
    """A lock for one process only (with `MemoryTokenStore`)."""

    def __init__(self) -> None:
        self._locks: dict[TokenKey, threading.Lock] = {}
        self._guard = threading.Lock()

    def hold(self, key: TokenKey) -> AbstractContextManager[object]:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
