"""`tokensentry nightly`: ingest → detect → digest in one process, under one OS file lock."""

from .job import NightlyLocked, nightly_lock, run_nightly

__all__ = ["NightlyLocked", "nightly_lock", "run_nightly"]
