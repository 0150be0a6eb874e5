"""`RefreshHelper`: one access token per (org, user, app), refreshed single-flight.

In one process, concurrent callers share one exchange (a lock per key, then a second look);
across processes, `RefreshLock` lets one worker refresh while the others wait and then read what
it stored. The rotated token is stored before the lock is released, and an exchange is
journalled in the store before it is sent, so a worker that dies mid-exchange leaves a state
the next one understands: the old token (with the journal saying it may be spent) or the new.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from requests.exceptions import ConnectTimeout, SSLError

from . import pkce
from .errors import ReauthorizationRequired, RefreshError, TokenEndpointError
from .exchange_log import ExchangeLog, utc_ts
from .locks import RefreshLock
from .store import InFlight, TokenKey, TokenState, TokenStore


@dataclass(frozen=True)
class OAuthClient:
    """The connected app / ECA as the partner registered it."""

    login_url: str  # https://login.salesforce.com, https://test.salesforce.com or My Domain
    client_id: str
    app: str  # the app's name, as the log and tokensentry's config call it
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None  # for the authorization-code flow
    flow: str = "refresh_token"  # or "client_credentials" (My Domain login_url)
    verify: bool | str = True  # requests' `verify`: a CA bundle path for a private CA

    @property
    def token_url(self) -> str:
        return f"{self.login_url.rstrip('/')}/services/oauth2/token"


@dataclass(frozen=True)
class Session:
    access_token: str = field(repr=False)
    instance_url: str


@dataclass(frozen=True)
class Authorization:
    """A started authorization: send the user to `url`; keep the rest server-side."""

    url: str
    state: str
    verifier: str = field(repr=False)


class RefreshHelper:
    def __init__(
        self, client: OAuthClient, store: TokenStore, lock: RefreshLock, log: ExchangeLog, *,
        max_access_age_s: float = 1800.0, retries: int = 4, backoff_s: float = 0.5,
        timeout_s: tuple[float, float] = (10.0, 30.0), http: requests.Session | None = None,
    ) -> None:  # fmt: skip
        self.client, self.store, self.lock, self.log = client, store, lock, log
        self.max_access_age_s = max_access_age_s
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s
        self._http = http
        self._local = threading.local()
        self._flights: dict[TokenKey, threading.Lock] = {}
        self._cache: dict[TokenKey, TokenState] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"RefreshHelper(client={self.client!r}, log={self.log!r})"

    # -- access tokens ----------------------------------------------------------------------------

    def access_token(self, key: TokenKey, *, stale: str | None = None) -> Session:
        """A usable session for `key`. `stale`: an access token Salesforce just refused
        (401 INVALID_SESSION_ID); a stored token other than it is used, else one is refreshed."""
        state = self._cache.get(key)
        if self._usable(state, stale):
            return _session(state)  # type: ignore[arg-type]
        with self._flight(key):
            state = self._cache.get(key)
            if self._usable(state, stale):  # another thread refreshed while this one waited
                return _session(state)  # type: ignore[arg-type]
            self._cache.pop(key, None)
            with self.lock.hold(key):
                state = self.store.load(key)
                if not self._usable(state, stale):
                    state = self._renew(key, state)
            self._cache[key] = state  # type: ignore[assignment]
            return _session(state)  # type: ignore[arg-type]

    def request(self, key: TokenKey, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An API call on the instance (`path` from /services/...), refreshing once on an
        expired session."""
        session = self.access_token(key)
        response = self._call(session, method, path, **kwargs)
        if response.status_code == 401 and "INVALID_SESSION_ID" in response.text:
            session = self.access_token(key, stale=session.access_token)
            response = self._call(session, method, path, **kwargs)
        return response

    def _call(self, session: Session, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {session.access_token}"}
        kwargs.setdefault("timeout", self.timeout_s)
        kwargs.setdefault("verify", self.client.verify)
        url = f"{session.instance_url.rstrip('/')}{path}"
        return self._session().request(method, url, headers=headers, **kwargs)

    def _usable(self, state: TokenState | None, stale: str | None) -> bool:
        return bool(
            state is not None
            and state.revoked is None
            and state.access_token
            and state.access_token != stale
            and time.time() - state.obtained_at < self.max_access_age_s
        )

    @contextmanager
    def _flight(self, key: TokenKey) -> Iterator[None]:
        with self._guard:
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            yield

    def _session(self) -> requests.Session:
        if self._http is not None:
            return self._http
        if not hasattr(self._local, "http"):  # requests.Session is not thread-safe
            self._local.http = requests.Session()
        return self._local.http  # type: ignore[no-any-return]

    # -- the exchange, under the lock -------------------------------------------------------------

    def _renew(self, key: TokenKey, state: TokenState | None) -> TokenState:
        if self.client.flow == "client_credentials":
            return self._exchange(key, state or TokenState(), "client_credentials")
        if state is None or state.refresh_token is None:
            raise ReauthorizationRequired(
                f"{key.label()}: no refresh token stored; authorize the user first"
            )
        if state.revoked is not None:
            raise ReauthorizationRequired(f"{key.label()}: {state.revoked}")
        lost = False
        if state.in_flight is not None:
            # A worker died between sending and storing (or never sent): its call is logged
            # for it, so that the retry below reads as the retry it is.
            self.log.write(
                sent_at=state.in_flight.sent_at, key_org=key.org_id, key_user=key.user_id,
                app=self.client.app, grant_type="refresh_token", outcome="error",
                token=state.refresh_token, worker=state.in_flight.worker,
                error_description=f"no answer recorded: worker {state.in_flight.worker} "
                f"stopped during the exchange (logged by {self.log.worker})",
            )  # fmt: skip
            lost = True
        return self._exchange(key, state, "refresh_token", answer_lost=lost)

    def _exchange(
        self, key: TokenKey, state: TokenState, grant: str, *, answer_lost: bool = False
    ) -> TokenState:
        token = state.refresh_token if grant == "refresh_token" else None
        form = {"grant_type": grant, "client_id": self.client.client_id}
        if token is not None:
            form["refresh_token"] = token
        if self.client.client_secret is not None:
            form["client_secret"] = self.client.client_secret
        secrets_ = [token, self.client.client_secret]
        for attempt in range(self.retries + 1):
            if attempt and not answer_lost:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            sent = time.time()
            if token is not None:  # journal first: the call may spend the token
                state = state.with_changes(in_flight=InFlight(utc_ts(sent), self.log.worker))
                self.store.save(key, state)
            try:
                response = self._session().post(
                    self.client.token_url, data=form, timeout=self.timeout_s,
                    verify=self.client.verify, headers={"Accept": "application/json"},
                )  # fmt: skip
            except requests.RequestException as exc:
                reached = not _never_sent(exc)
                self._log(key, sent, grant, "error", token, error=_transport_error(exc, reached))
                answer_lost = answer_lost or reached
                continue
            body = _json(response)
            if response.status_code >= 500 or (response.ok and not body.get("access_token")):
                error = f"HTTP {response.status_code}" + ("" if response.ok else " (no token)")
                self._log(key, sent, grant, "error", token, error=error)
                continue
            if not response.ok:
                return self._refused(key, state, sent, grant, body, secrets_, answer_lost)
            new = body.get("refresh_token") or token
            _check_identity(key, body)
            fresh = TokenState(new, body["access_token"], body.get("instance_url"), sent)
            self.store.save(key, fresh)  # stored before the lock is released
            self._log(key, sent, grant, "success", token, new if new != token else None)
            return fresh
        if token is not None:
            self.store.save(key, state.with_changes(in_flight=None))
        if answer_lost and token is not None:
            raise ReauthorizationRequired(_lost_message(key, confirmed=False))
        raise TokenEndpointError(
            f"{key.label()}: the token endpoint did not answer after {self.retries + 1} "
            f"attempts (see the token log); the {grant} is unchanged, try again later"
        )

    def _refused(
        self, key: TokenKey, state: TokenState, sent: float, grant: str, body: dict[str, Any],
        secrets_: list[str | None], answer_lost: bool,
    ) -> TokenState:  # fmt: skip
        error = _scrub(str(body.get("error") or "unknown_error"), secrets_)
        description = _scrub(str(body.get("error_description") or ""), secrets_) or None
        token = state.refresh_token if grant == "refresh_token" else None
        outcome = "invalid_grant" if error == "invalid_grant" else "error"
        self._log(key, sent, grant, outcome, token, error=description or error)
        if token is not None and error == "invalid_grant":
            why = (
                _lost_message(key, confirmed=True)
                if answer_lost
                else f"{key.label()}: Salesforce refused the refresh token (invalid_grant: "
                f"{description}); it revokes the whole token family once a spent token comes "
                "back or the token expires or is revoked: re-authorize the user"
            )
            self.store.save(key, state.with_changes(in_flight=None, revoked=why))
            raise ReauthorizationRequired(why)
        if token is not None:
            self.store.save(key, state.with_changes(in_flight=None))
        raise TokenEndpointError(
            f"{key.label()}: the token endpoint refused the {grant} call: {error}"
            + (f" ({description})" if description else ""),
            error,
        )

    def _log(
        self, key: TokenKey, sent: float, grant: str, outcome: str, token: str | None,
        new: str | None = None, *, error: str | None = None, pkce_sent: bool | None = None,
    ) -> None:  # fmt: skip
        self.log.write(
            sent_at=sent, key_org=key.org_id, key_user=key.user_id, app=self.client.app,
            grant_type=grant, outcome=outcome, token=token, new_token=new,
            error_description=error, pkce=pkce_sent,
        )  # fmt: skip

    # -- (re-)authorization: the web server flow with PKCE ----------------------------------------

    def begin_authorization(
        self, *, state: str, login_hint: str | None = None, scope: str = "api refresh_token"
    ) -> Authorization:
        """The URL to send the user to, with a fresh PKCE verifier (S256)."""
        if not self.client.redirect_uri:
            raise RefreshError("the authorization-code flow needs the app's redirect_uri")
        verifier = pkce.new_verifier()
        params = {
            "response_type": "code", "client_id": self.client.client_id,
            "redirect_uri": self.client.redirect_uri, "scope": scope, "state": state,
            "code_challenge": pkce.challenge(verifier), "code_challenge_method": "S256",
            **({"login_hint": login_hint} if login_hint else {}),
        }  # fmt: skip
        url = f"{self.client.login_url.rstrip('/')}/services/oauth2/authorize?{urlencode(params)}"
        return Authorization(url, state, verifier)

    def complete_authorization(
        self, authorization: Authorization, code: str, state: str, key: TokenKey
    ) -> Session:
        """Exchange the callback's `code` (with the verifier) and store the new token for `key`,
        replacing a revoked family."""
        if state != authorization.state:
            raise RefreshError("the callback's state does not match the authorization's")
        form = {
            "grant_type": "authorization_code", "code": code, "client_id": self.client.client_id,
            "redirect_uri": self.client.redirect_uri or "", "code_verifier": authorization.verifier,
            **({"client_secret": self.client.client_secret} if self.client.client_secret else {}),
        }  # fmt: skip
        secrets_ = [code, authorization.verifier, self.client.client_secret]
        with self._flight(key), self.lock.hold(key):
            sent = time.time()
            try:
                response = self._session().post(
                    self.client.token_url, data=form, timeout=self.timeout_s,
                    verify=self.client.verify, headers={"Accept": "application/json"},
                )  # fmt: skip
            except requests.RequestException as exc:
                error = _transport_error(exc, not _never_sent(exc))
                self._log(key, sent, "authorization_code", "error", None, error=error,
                          pkce_sent=True)  # fmt: skip
                raise RefreshError(f"{key.label()}: authorization failed: {error}") from None
            body = _json(response)
            if not response.ok or not body.get("access_token"):
                error = _scrub(str(body.get("error") or f"HTTP {response.status_code}"), secrets_)
                text = _scrub(str(body.get("error_description") or ""), secrets_) or None
                outcome = "invalid_grant" if error == "invalid_grant" else "error"
                self._log(key, sent, "authorization_code", outcome, None, error=text or error,
                          pkce_sent=True)  # fmt: skip
                detail = f" ({text})" if text else ""
                raise TokenEndpointError(
                    f"{key.label()}: authorization refused: {error}{detail}", error
                )
            _check_identity(key, body)
            fresh = TokenState(
                body.get("refresh_token"), body["access_token"], body.get("instance_url"), sent
            )
            self.store.save(key, fresh)
            self._log(key, sent, "authorization_code", "success", None,
                      body.get("refresh_token"), pkce_sent=True)  # fmt: skip
            self._cache[key] = fresh
        return _session(fresh)


def _session(state: TokenState) -> Session:
    return Session(state.access_token or "", state.instance_url or "")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request surely never reached the server (no connection or TLS failed)."""
    if isinstance(exc, ConnectTimeout | SSLError):
        return True
    # requests wraps urllib3's NewConnectionError; matched by name so that `requests` stays
    # the only third-party import.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return any(kind.__name__ == "NewConnectionError" for kind in type(reason).__mro__)


def _transport_error(exc: requests.RequestException, reached: bool) -> str:
    kind = type(exc).__name__
    if reached:
        return f"answer lost after sending ({kind}): Salesforce may have rotated the token"
    return f"not sent: no connection to the token endpoint ({kind})"


def _lost_message(key: TokenKey, *, confirmed: bool) -> str:
    what = (
        "Salesforce had rotated the token: the new refresh token never arrived and the retry "
        "with the old one made Salesforce revoke the token family"
        if confirmed
        else "no retry got an answer either, and Salesforce may have rotated the token (a "
        "spent token presented again revokes the family)"
    )
    return (
        f"{key.label()}: the answer to a refresh was lost after the request was sent; {what}. "
        "This cannot be made safe by retrying; re-authorize the user "
        "(begin_authorization / complete_authorization)"
    )


def _check_identity(key: TokenKey, body: dict[str, Any]) -> None:
    """The identity URL (`.../id/{orgId}/{userId}`) must name the key's org and user."""
    parts = str(body.get("id", "")).rstrip("/").split("/")
    if len(parts) >= 2:
        org, user = parts[-2], parts[-1]
        if org[:15] != key.org_id[:15] or user[:15] != key.user_id[:15]:
            raise RefreshError(
                f"{key.label()}: the token was issued to org {org} user {user}, not to this key"
            )


def _scrub(text: str, secrets_: list[str | None]) -> str:
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text[:500]
