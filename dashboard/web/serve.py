"""Start the Streamlit app as `streamlit run` would, bound to loopback only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"


def command(port: int, address: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def environment(db_path: Path, config_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TOKENSENTRY_DB": str(db_path.resolve()),
        "TOKENSENTRY_CONFIG": str(config_path.resolve()),
    }


def serve(db_path: Path, config_path: Path, port: int) -> int:
    """Become the Streamlit server (exec), so Ctrl-C and SIGTERM reach it directly and no
    orphaned server outlives the command."""
    argv = command(port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, environment(db_path, config_path))
    return 0  # not reached
