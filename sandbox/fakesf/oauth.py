"""The fake's refresh-token and authorization-code grants: rotation, PKCE (SALESFORCE.md §6).

- `GET /services/oauth2/authorize` (web server flow): the fake has no login page, so the user who
  approves is named by `login_hint` (a parameter Salesforce accepts to prefill the username);
  the answer is Salesforce's redirect to the app's callback URL with `code` and `state`. A
  `code_challenge` must come with `code_challenge_method=S256`.
- `grant_type=authorization_code`: the code is single-use and short-lived, `redirect_uri` must
  be the one authorized, and a code issued with a challenge needs the `code_verifier` whose
  BASE64URL(SHA-256) is that challenge (`invalid code verifier` otherwise). A confidential app
  (one with a consumer secret) sends its secret too.
- `grant_type=refresh_token`: with Refresh Token Rotation (on by default here) every answer
  carries a new `refresh_token` and the presented one is spent. Presenting a spent token revokes
  the whole family (its current refresh token and every access token it issued) and answers
  400 `invalid_grant` / `expired access/refresh token`, the same body as an unknown or revoked
  token (Salesforce's help: "Refresh Token Rotation"; RFC 9700 §4.14.2).

`OAuthFaults` lets a test break the endpoint the ways a partner meets: 5xx answers that never
reached the token logic, and answers that come back too late (the exchange happened).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .model import ApiError, FakeApp, FakeOrg

if TYPE_CHECKING:
    from .server import FakeSalesforce

GRANTS = ("refresh_token", "authorization_code")
CODE_LIFETIME_S = 15 * 60  # Salesforce: an authorization code is valid for 15 minutes
EXPIRED = "expired access/refresh token"


@dataclass
class OAuthFaults:
    """Faults of the token endpoint for the two grants here, consumed one exchange at a time."""

    unavailable_next: int = 0  # the next n exchanges answer 503 before any token logic runs
    late_answer_next: int = 0  # the next n exchanges happen, then their answer waits...
    late_answer_s: float = 0.0  # ...this long (a client's read timeout fires first)


@dataclass
class _Family:
    """One authorization's chain of refresh tokens."""

    org: FakeOrg
    user_id: str
    consumer_key: str
    current: str | None
    spent: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class _Code:
    org: FakeOrg
    app: FakeApp
    user_id: str
    redirect_uri: str
    challenge: str | None
    issued: float
    used: bool = False
    family: _Family | None = None


@dataclass
class Exchange:
    """What the endpoint did with one call: tests read these to know what Salesforce saw."""

    grant: str
    presented: str | None  # the refresh token (or code) presented
    outcome: str  # success | invalid_grant | unavailable | <error code>
    at: float


class OAuthGrants:
    """The refresh-token and authorization-code state of one `FakeSalesforce`."""

    def __init__(self, fake: FakeSalesforce, *, rotation: bool = True) -> None:
        self.fake = fake
        self.rotation = rotation
        self.faults = OAuthFaults()
        self.exchanges: list[Exchange] = []
        self._families: dict[str, _Family] = {}  # every refresh token ever issued → its family
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()

    # -- the authorize endpoint -----------------------------------------------------------------

    def authorize(self, params: dict[str, str]) -> str:
        """The Location of Salesforce's redirect after the user approved the app."""
        if params.get("response_type") != "code":
            raise ApiError(400, "unsupported_response_type", "response type not supported")
        org, app = self._app_for_user(params.get("client_id", ""), params.get("login_hint", ""))
        redirect = params.get("redirect_uri", "")
        if redirect not in app.callback_urls:
            raise ApiError(400, "redirect_uri_mismatch", "redirect_uri must match configuration")
        challenge = params.get("code_challenge")
        if challenge is not None and params.get("code_challenge_method") != "S256":
            raise ApiError(400, "invalid_request", "invalid code challenge method")
        code = f"aPr{secrets.token_urlsafe(48)}"
        with self._lock:
            self._codes[code] = _Code(
                org, app, org.users[params["login_hint"]], redirect, challenge, time.time()
            )
        answer = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        return f"{redirect}?{urlencode(answer)}"

    def _app_for_user(self, client_id: str, username: str) -> tuple[FakeOrg, FakeApp]:
        candidates = [(o, a) for o in self.fake.orgs for a in o.apps if a.consumer_key == client_id]
        if not candidates:
            raise ApiError(400, "invalid_client_id", "client identifier invalid")
        for org, app in candidates:
            if username in org.users:
                return org, app
        raise ApiError(400, "invalid_grant", "authentication failure")

    # -- the token endpoint -----------------------------------------------------------------------

    def exchange(
        self, grant: str, form: dict[str, str], basic: tuple[str, str] | None
    ) -> dict[str, Any]:
        presented = form.get("refresh_token") if grant == "refresh_token" else form.get("code")
        with self._lock:
            unavailable = self.faults.unavailable_next > 0
            self.faults.unavailable_next -= unavailable
            late = 0.0
            if not unavailable and self.faults.late_answer_next > 0:
                self.faults.late_answer_next -= 1
                late = self.faults.late_answer_s
        if unavailable:
            self._record(grant, presented, "unavailable")
            raise ApiError(503, "temporarily_unavailable", "Service Unavailable")
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret"))
        try:
            if grant == "refresh_token":
                answer = self._refresh(presented or "", client_id, secret)
            else:
                answer = self._code(form, client_id, secret)
        except ApiError as exc:
            self._record(grant, presented, exc.error_code)
            raise
        self._record(grant, presented, "success")
        if late:
            time.sleep(late)  # the exchange happened; the answer is what comes late
        return answer

    def _record(self, grant: str, presented: str | None, outcome: str) -> None:
        with self._lock:
            self.exchanges.append(Exchange(grant, presented, outcome, time.time()))

    def _refresh(self, token: str, client_id: str, secret: str | None) -> dict[str, Any]:
        with self._lock:
            family = self._families.get(token)
            if family is None or family.revoked or family.consumer_key != client_id:
                raise ApiError(400, "invalid_grant", EXPIRED)
            if token != family.current:
                self._revoke(family)  # a spent token came back: the whole family goes
                raise ApiError(400, "invalid_grant", EXPIRED)
        app = next(a for a in family.org.apps if a.consumer_key == client_id)
        self._check_secret(app, secret)
        if family.org.faults.locked:
            raise ApiError(400, "inactive_org", "organization is locked")
        with self._lock:
            if token != family.current or family.revoked:  # another call spent it meanwhile
                self._revoke(family)
                raise ApiError(400, "invalid_grant", EXPIRED)
            answer = self._issue(family)
        return answer

    def _code(self, form: dict[str, str], client_id: str, secret: str | None) -> dict[str, Any]:
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is not None and code.used and code.family is not None:
                self._revoke(code.family)  # RFC 6749 §4.1.2: a code used twice revokes its tokens
            if (
                code is None
                or code.used
                or time.time() - code.issued > CODE_LIFETIME_S
                or code.app.consumer_key != client_id
            ):
                raise ApiError(400, "invalid_grant", "invalid authorization code")
            if form.get("redirect_uri") != code.redirect_uri:
                raise ApiError(400, "invalid_grant", "redirect_uri mismatch")
            if code.challenge is not None:
                verifier = form.get("code_verifier", "")
                if not verifier or pkce_challenge(verifier) != code.challenge:
                    raise ApiError(400, "invalid_grant", "invalid code verifier")
            code.used = True
        self._check_secret(code.app, secret)
        with self._lock:
            family = _Family(code.org, code.user_id, client_id, None)
            code.family = family
            return self._issue(family)

    @staticmethod
    def _check_secret(app: FakeApp, secret: str | None) -> None:
        # A confidential app's secret is required (Require Secret for Refresh Token Flow and
        # for Web Server Flow are on by default); a public app (no secret) sends none.
        if app.consumer_secret is not None and secret != app.consumer_secret:
            raise ApiError(400, "invalid_client", "invalid client credentials")

    def _issue(self, family: _Family) -> dict[str, Any]:
        """Called with the lock held: the next generation of the family."""
        answer = self.fake.mint_access_token(family.org, family.user_id, self.fake.url)
        family.access_tokens.add(answer["access_token"])
        if family.current is None or self.rotation:
            if family.current is not None:
                family.spent.add(family.current)
            family.current = f"5Aep{secrets.token_urlsafe(64)}"
            self._families[family.current] = family
        answer["refresh_token"] = family.current
        answer["scope"] = "api refresh_token"
        return answer

    def _revoke(self, family: _Family) -> None:
        """Called with the lock held: the family's refresh and access tokens stop working."""
        family.revoked = True
        with self.fake._lock:  # the fake's sessions: its lock is always taken after ours
            for token in family.access_tokens:
                self.fake._tokens.pop(token, None)

    def current_refresh_token(self, org_id: str, user_id: str) -> str | None:
        """The live refresh token of a user's newest unrevoked family (for tests)."""
        with self._lock:
            live = [
                f
                for f in self._families.values()
                if f.org.org_id == org_id and f.user_id == user_id and not f.revoked
            ]
        return live[-1].current if live else None

    def is_live(self, refresh_token: str) -> bool:
        with self._lock:
            family = self._families.get(refresh_token)
            return bool(family and not family.revoked and family.current == refresh_token)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2, S256: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
