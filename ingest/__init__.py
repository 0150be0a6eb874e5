"""Stage 1 of tokensentry: Salesforce exports and APIs → raw tables → normalized events.

`ingest` also owns what every later stage shares: configuration (`config`), the DuckDB store
(`db`, `schema/`), Salesforce id handling (`sfid`) and time parsing (`timeparse`). It imports
neither `detect` nor `dashboard`.
"""
