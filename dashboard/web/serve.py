"""Start the Streamlit app as `streamlit run` would, bound to loopback unless asked otherwise."""

from __future__ import annotations

import ipaddress
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


def exposure_warning(host: str) -> str | None:
    """The warning for a bind address other machines can reach; None for loopback."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"warning: serving on {host}: the dashboard has no authentication of its own and "
        "shows (and lets anyone triage) every alert. Put it behind your organisation's SSO "
        "proxy, and set [dashboard] user_header to the header the proxy puts the user in."
    )


def environment(db_path: Path, config_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TOKENSENTRY_DB": str(db_path.resolve()),
        "TOKENSENTRY_CONFIG": str(config_path.resolve()),
    }


def serve(db_path: Path, config_path: Path, port: int, host: str = "127.0.0.1") -> int:
    """Become the Streamlit server (exec), so Ctrl-C and SIGTERM reach it directly and no
    orphaned server outlives the command."""
    argv = command(port, host)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, environment(db_path, config_path))
    return 0  # not reached
