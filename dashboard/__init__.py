"""Stage 3 of tokensentry: everything a person touches (web app, command line, email).

`queries` holds the SQL every surface shares; `cli` is the composition root and may import
`ingest` and `detect`.
"""
