"""A refresh helper partners embed: single-flight refresh of rotating Salesforce refresh tokens,
and the partner token log tokensentry reads (CONTRACT §4).

Standard library and `requests` only, so a partner can import it or copy this folder into its
own code base; importing it loads nothing else of tokensentry.

    from ingest.refresh_helper import (ExchangeLog, FileRefreshLock, FileTokenStore, OAuthClient,
                                       RefreshHelper, TokenKey)

    client = OAuthClient("https://login.salesforce.com", client_id="3MVG9...", app="Acme Sync",
                         client_secret=os.environ["ACME_SECRET"])
    log = ExchangeLog("/var/log/acme/token-exchanges.jsonl", egress_ip="203.0.113.5")
    helper = RefreshHelper(client, FileTokenStore("/var/lib/acme/tokens"),
                           FileRefreshLock("/var/lib/acme/tokens"), log)
    key = TokenKey(org_id="00D...", user_id="005...", app="Acme Sync")
    response = helper.request(key, "GET", "/services/data/v62.0/limits")
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
