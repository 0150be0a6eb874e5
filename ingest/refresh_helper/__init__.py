"""A refresh helper partners embed: single-flight refresh of rotating Salesforce refresh tokens,
and the partner token log tokensentry reads (CONTRACT §4).

Standard library and `requests` only, so a partner can import it or copy this folder into its
own code base; importing it loads nothing else of tokensentry.

    import os

    from ingest import refresh_helper as rh

    secret = os.environ["ACME_SECRET"]  # the consumer secret; TOKENSENTRY_FP_KEY is set too
    client = rh.OAuthClient("https://login.salesforce.com", "3MVG9...", "Acme Sync", secret)
    log = rh.ExchangeLog("/var/log/acme/token-exchanges.jsonl", egress_ip="203.0.113.5")
    folder = "/var/lib/acme/tokens"  # one 0600 token file and one lock file per key
    helper = rh.RefreshHelper(client, rh.FileTokenStore(folder), rh.FileRefreshLock(folder), log)
    key = rh.TokenKey(org_id="00D5g000004XyZa", user_id="0055g00000AbCdE", app="Acme Sync")
    limits = helper.request(key, "GET", "/services/data/v62.0/limits")  # refreshes when needed
"""

from .errors import (
    ConfigurationError,
    ReauthorizationRequired,
    RefreshError,
    TokenEndpointError,
)
from .exchange_log import FP_KEY_ENV, ExchangeLog, egress_address
from .helper import Authorization, OAuthClient, RefreshHelper, Session
from .locks import FileRefreshLock, RefreshLock, ThreadRefreshLock
from .pkce import challenge, new_verifier
from .store import FileTokenStore, InFlight, MemoryTokenStore, TokenKey, TokenState, TokenStore

__all__ = [
    "FP_KEY_ENV",
    "Authorization",
    "ConfigurationError",
    "ExchangeLog",
    "FileRefreshLock",
    "FileTokenStore",
    "InFlight",
    "MemoryTokenStore",
    "OAuthClient",
    "ReauthorizationRequired",
    "RefreshError",
    "RefreshHelper",
    "RefreshLock",
    "Session",
    "ThreadRefreshLock",
    "TokenEndpointError",
    "TokenKey",
    "TokenState",
    "TokenStore",
    "challenge",
    "egress_address",
    "new_verifier",
]
