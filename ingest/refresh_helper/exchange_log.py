"""The partner token log: one JSON line per token-endpoint call, in CONTRACT §4's format.

`token_fp` / `new_token_fp` are HMAC-SHA256 of the token under a key every worker of the
partner shares (read from an environment variable), so two workers name one token alike and
the log never holds anything a token can be rebuilt from. `egress_ip` is the address the
partner's calls leave through (its NAT's public side), from configuration: never a loopback,
link-local or private address, empty when unknown.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from .errors import ConfigurationError

FP_KEY_ENV = "TOKENSENTRY_FP_KEY"
MIN_KEY_LENGTH = 16
# Addresses a NAT's public side never has: RFC 1918 and RFC 6598 (carrier-grade NAT) private
# space, unique-local IPv6, loopback, link-local, unspecified, multicast.
NOT_EGRESS = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
        "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    )
]  # fmt: skip

Sink = str | Path | TextIO | Callable[[dict[str, Any]], None]


def egress_address(value: str | None) -> str:
    """The configured egress address, checked: '' when unknown, else a public IP."""
    if not value:
        return ""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ConfigurationError(f"egress_ip {value!r} is not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in NOT_EGRESS if network.version == address.version):
        raise ConfigurationError(
            f"egress_ip {value!r} is a local or private address; give the public address your "
            "NAT sends the calls from, or leave it empty when unknown"
        )
    return str(address)


def utc_ts(epoch: float) -> str:
    """CONTRACT §4 `ts`: ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ExchangeLog:
    """Writes the lines to a file (appended, one write per line), stdout (`"-"`) or a callback.

    Lines from several processes may share one file: each line is a single `write` to a file
    opened with O_APPEND, so lines never interleave.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        egress_ip: str | None = None,
        fp_key_env: str = FP_KEY_ENV,
        worker: str | None = None,
    ) -> None:
        key = os.environ.get(fp_key_env, "")
        if len(key) < MIN_KEY_LENGTH:
            raise ConfigurationError(
                f"set {fp_key_env} to the fingerprint key every worker shares "
                f"({MIN_KEY_LENGTH}+ characters): token fingerprints are keyed so that the "
                "log never allows guessing a token"
            )
        self._key = key.encode()
        self.egress_ip = egress_address(egress_ip)
        if not self.egress_ip:
            warnings.warn(
                'ExchangeLog without egress_ip: the lines say egress_ip "" and tokensentry '
                "loads them with an unknown source IP, so detection cannot judge the network "
                "of these refreshes (allowlist, new network); configure the public address the "
                "workers' calls leave through",
                stacklevel=2,
            )
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self._sink = sink
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ExchangeLog(worker={self.worker!r}, egress_ip={self.egress_ip!r})"

    def fingerprint(self, token: str | None) -> str | None:
        if token is None:
            return None
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def write(
        self,
        *,
        sent_at: float | str,
        key_org: str,
        key_user: str | None,
        app: str,
        grant_type: str,
        outcome: str,
        token: str | None = None,
        new_token: str | None = None,
        error_description: str | None = None,
        pkce: bool | None = None,
        worker: str | None = None,
    ) -> dict[str, Any]:
        line = {
            "ts": sent_at if isinstance(sent_at, str) else utc_ts(sent_at),
            "org_id": key_org,
            "app": app,
            "user_id": key_user,
            "grant_type": grant_type,
            "token_fp": self.fingerprint(token),
            "new_token_fp": self.fingerprint(new_token),
            "egress_ip": self.egress_ip,
            "worker": worker or self.worker,
            "outcome": outcome,
            "error_description": error_description,
            "pkce": pkce,
        }
        self._emit(line)
        return line

    def _emit(self, line: dict[str, Any]) -> None:
        sink = self._sink
        if callable(sink):
            sink(dict(line))
            return
        text = json.dumps(line, separators=(",", ":")) + "\n"
        with self._lock:
            if sink == "-":
                sys.stdout.write(text)
                sys.stdout.flush()
            elif isinstance(sink, str | Path):
                fd = os.open(sink, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, text.encode())
                finally:
                    os.close(fd)
            else:
                sink.write(text)
                sink.flush()
