"""Generated stores kept in --workdir and reused: a 10 M-event store takes minutes to build.

A pristine copy (`NAME-KEY.template.duckdb`) is kept beside the working store; each run starts
from a fresh copy of it, so a detect run never sees the alerts of the previous one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path


def prepared_store(
    workdir: Path, name: str, key: str, build: Callable[[Path], None], *, keep: bool
) -> Path:
    store = workdir / f"{name}.duckdb"
    template = workdir / f"{name}-{key}.template.duckdb"
    for path in (store, store.with_name(store.name + ".wal")):
        path.unlink(missing_ok=True)
    if keep and template.exists():
        shutil.copyfile(template, store)
        return store
    build(store)
    if keep:
        partial = template.with_suffix(".partial")
        shutil.copyfile(store, partial)
        partial.replace(template)
    return store
