"""Start the Streamlit app as `streamlit run` would, bound to loopback unless asked otherwise.

Always with an explicit `--server.address` (Streamlit's own default is every interface). With
`[dashboard] user_header` set, whoever reaches the port names the analyst by sending that
header, so the port must be reachable only through the SSO proxy that overwrites it: loopback
stays the default, and another address asked for explicitly gets a louder warning.
"""

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
        # A served dashboard does not reload its own source: without this, every page load
        # walked every imported module to watch the app's files (0.1 s of the server's
        # 0.25-0.3 s of CPU per page load here).
        "--server.fileWatcherType",
        "none",
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


def user_header_warning(host: str, user_header: str | None) -> str | None:
    """In `user_header` mode, the warning for an address the proxy is not the only way to."""
    if not user_header or exposure_warning(host) is None:
        return None
    return (
        f"warning: [dashboard] user_header = {user_header!r} and serving on {host}: any client "
        f"that reaches this port can send {user_header} and triage under any name. Only do "
        "this when the SSO proxy is the sole route to the port (firewall) and overwrites the "
        "header on every request; otherwise serve on 127.0.0.1 with the proxy on this host."
    )


def _user_header(config_path: Path) -> str | None:
    from ingest import config as config_module
    from ingest.errors import ConfigError

    try:
        return config_module.load(config_path).dashboard.user_header
    except ConfigError:
        return None  # the app says what is wrong with it


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
    warning = user_header_warning(host, _user_header(config_path))
    if warning:
        print(warning, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, environment(db_path, config_path))
    return 0  # not reached
