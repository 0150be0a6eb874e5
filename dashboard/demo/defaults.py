"""The demo as the default: after `make demo`, plain `tokensentry …` commands and the notebooks
read the demo's store and configuration without flags.

The demo builds its store at the default path (`data/tokensentry.duckdb`) and writes two
configurations: the one its run uses (the API orgs pointed at the fake Salesforce, which lives
only while the demo runs) is discarded after the run; the one it leaves behind,
`DIR/tokensentry.toml`, names every demo org import-only (CONTRACT §8: an org id, no connection
settings), so `ingest` and `nightly` say there is nothing to pull instead of failing on a
server that is gone, and holds the apps and allowlists every other command needs. When the
demo ran on the default store, that configuration is also written to the default path
(`data/tokensentry.toml`), unless a configuration the user wrote is already there: a file
there that does not start with `MARKER` is never touched, and the demo says how to use its own.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.demo import files
from sandbox.demo.cast import ORGS

from ..settings import DEFAULT_CONFIG, DEFAULT_DB

MARKER = "# Written by `tokensentry demo`."

HEADER = f"""{MARKER} Running the demo again rewrites this file; delete this first
# line to keep your edits. Every demo org is import-only: the fake Salesforce the demo ingested
# from runs only during `tokensentry demo`, so `tokensentry ingest` has nothing to pull.

"""

DIGEST = """
[digest]
enabled = false                    # no mail server in the demo: `digest --dry-run FILE.eml`
from = "tokensentry@acme-sync.example"
to = ["secops@acme-sync.example"]
dashboard_url = "http://localhost:{port}"
"""


def import_only_orgs() -> str:
    """Every demo org, API-delivered ones included, with its id and no connection settings."""
    return "\n".join(
        f'[orgs.{org.alias}]\norg_id = "{org.org_id}"\nkind = "{org.kind}"\n' for org in ORGS
    )


def lasting_config(port: int) -> str:
    return HEADER + files.config_apps() + "\n" + import_only_orgs() + DIGEST.format(port=port)


def written_by_demo(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().startswith(MARKER)
    except (OSError, UnicodeDecodeError):
        return False


def adopt(demo_config: Path, db: Path, config: Path) -> str:
    """Make the demo's configuration the default one when the demo ran on the default store
    and no user-written configuration is in the way; return the sentence that says what was
    done (or how to use the demo's configuration instead)."""
    use = f"--config {demo_config}"
    if db != DEFAULT_DB:
        store = f"--db {db} "
        return f"use the demo's store and configuration with `tokensentry {store}{use} …`"
    if config != DEFAULT_CONFIG:
        return f"the demo ran with --config {config}; its own configuration is {demo_config}"
    if DEFAULT_CONFIG.exists() and not written_by_demo(DEFAULT_CONFIG):
        return (
            f"{DEFAULT_CONFIG} was written by you, not by the demo: left as it is; use the "
            f"demo's configuration with `tokensentry {use} …` or "
            f"TOKENSENTRY_CONFIG={demo_config}"
        )
    DEFAULT_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_CONFIG.write_text(demo_config.read_text(encoding="utf-8"), encoding="utf-8")
    return (
        f"{DEFAULT_CONFIG} is the demo's configuration (every org import-only): "
        "`tokensentry dashboard`, `alerts`, `controls`, `health`, `digest --dry-run` and the "
        "notebooks use it and the store without flags"
    )
