"""What every human surface shares: where the store and the configuration live.

The command line builds one `Settings` from its global options; the demo, the dashboard server,
the digest and the benchmark take it as a parameter, so none of them imports the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest import config as config_module

DEFAULT_DB = Path("data/tokensentry.duckdb")
DEFAULT_CONFIG = Path("data/tokensentry.toml")


@dataclass
class Settings:
    db: Path
    config: Path
    verbose: bool = False

    def load_config(self) -> config_module.Config:
        # A missing default file means "no orgs, no allowlists" (CONTRACT §2); a path the
        # user named must exist.
        return config_module.load(self.config, required=self.config != DEFAULT_CONFIG)
