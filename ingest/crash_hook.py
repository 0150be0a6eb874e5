"""A deterministic stopping point for crash tests: a real `kill -9` needs to land somewhere known.

When `TOKENSENTRY_HALT_AFTER_COMMITS=N` is set, the ingest writer (or `detect`, counting each
detector's recorded start), right after its N-th committed
batch, writes its pid to the file named by `TOKENSENTRY_HALT_SIGNAL` and then waits forever: the
test that started the process SIGKILLs it there. Unset (every real run), this does nothing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

_lock = threading.Lock()
_commits = 0


def after_commit() -> None:
    global _commits
    limit = os.environ.get("TOKENSENTRY_HALT_AFTER_COMMITS")
    if not limit:
        return
    with _lock:
        _commits += 1
        reached = _commits == int(limit)
    if reached:
        signal_file = Path(os.environ["TOKENSENTRY_HALT_SIGNAL"])
        signal_file.write_text(f"{os.getpid()} {_commits}\n")
        while True:  # the parent's SIGKILL ends this
            time.sleep(60)
