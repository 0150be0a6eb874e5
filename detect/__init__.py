"""Stage 2 of tokensentry: normalized events → alerts.

A detector is one module in `detect/detectors/` (see `detector.Detector`); the registry finds
them, the runner gives each a `Context`, upserts what it finds and records a run row. Detectors
only read `events`; they may import `ingest`, never `dashboard`.
"""
