"""Expensive read-only artefacts (the demo's store, the adversarial world's files) built once
per test run, however many pytest-xdist workers share it.

Under xdist a session fixture runs once per worker; `build_once` makes the first worker to ask
build the artefact under a file lock in the run's shared temporary folder (the parent of every
worker's basetemp) while the others wait for it and then reuse it. Without xdist it builds in
the session's basetemp. The artefact is never written to afterwards: tests that read a store
get their worker's own copy (`private_copy`), tests that write get a copy of their own.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

BUILT = ".built"  # written last: a folder without it is a half-built one (a worker that died)


def _shared_root(factory: pytest.TempPathFactory, worker: str) -> Path:
    # Under xdist every worker's basetemp is <run>/popen-gwN and <run> is this run's alone;
    # without it the parent would be pytest-of-<user>, shared by every run on the machine.
    basetemp = factory.getbasetemp()
    return basetemp if worker == "master" else basetemp.parent


def build_once(
    config: pytest.Config, factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """The folder `name` as `build(folder)` left it, built by one worker of this run only."""
    worker = worker_id(config)
    root = _shared_root(factory, worker)
    folder = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (folder / BUILT).exists():
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            started = time.monotonic()
            build(folder)
            (folder / BUILT).write_text(f"{worker} {time.monotonic() - started:.1f}s\n")
    return folder


def private_copy(source: Path, target: Path) -> Path:
    """A copy of a built folder (a DuckDB file copies in milliseconds; rebuilding takes
    minutes). Modes are kept: the demo's store and keys are owner-only, and tests check it."""
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(BUILT))
    return target


def worker_id(config: pytest.Config) -> str:
    """`gw0`, `gw1`… under pytest-xdist; `master` in a plain run (or with `-p no:xdist`, where
    xdist's own `worker_id` fixture does not exist)."""
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "master"
