"""Alerts and incidents in the shapes other tools ingest: OCSF Detection Findings for a SIEM
(`ocsf`), newline-delimited JSON for a collector (`ndjson`)."""
