"""Talking to one org: token, TLS trust, retries, re-authentication, the API reserve.

simple-salesforce builds login hosts itself and has no JWT flow against a custom token host,
so the token comes from `{login_url}/services/oauth2/token` here and simple-salesforce gets
`instance_url` + `session_id` (its "direct" mode), port included. Secrets are resolved only
inside `obtain_token` and never appear in an exception message, a log line or a return value
other than the access token itself.
"""

from __future__ import annotations

import atexit
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import certifi
import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.util import exception_handler
from tenacity import Retrying as _Retrying
from tenacity import (
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from .config import OrgConfig
from .errors import InputError, TokensentryError
from .sfid import is_salesforce_id, to18

API_VERSION = "62.0"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
T = TypeVar("T")


class OrgError(TokensentryError):
    """This org cannot be read now; the message says why and what to do."""


class LimitExceeded(OrgError):
    """Salesforce answered REQUEST_LIMIT_EXCEEDED, or the API reserve was reached."""


class QueryRejected(OrgError):
    """Salesforce refused the query itself (MALFORMED_QUERY and kin): a caller may rephrase."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.code = code


class ResourceNotFound(OrgError):
    """HTTP 404 NOT_FOUND: the resource does not exist in this org (or this API version)."""


class NotAvailable(TokensentryError):
    """The org lacks the licence or permission for this source."""


class PinnedSession(requests.Session):
    """A Session whose CA bundle wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    requests lets those variables replace a Session's `verify` on every request (psf/requests
    #3829); corporate machines and CI set them, which would silently drop the org's bundle.
    """

    def __init__(self, ca_bundle: str | None) -> None:
        super().__init__()
        self.pinned_verify = ca_bundle
        if ca_bundle:
            self.verify = ca_bundle

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.pinned_verify:
            settings["verify"] = self.pinned_verify
        return settings


_BUNDLES: dict[bytes, str] = {}


def trust_bundle(extra: Path | None) -> str | None:
    """The public CAs plus the org's extra CA (a TLS-inspecting proxy's, or a test server's)."""
    if extra is None:
        return None
    try:
        pem = extra.read_bytes()
    except OSError as exc:
        raise InputError(f"{extra}: cannot read the CA bundle: {exc.strerror}") from None
    if pem not in _BUNDLES:  # keyed by content: a rotated CA file must not reuse the old bundle
        with tempfile.NamedTemporaryFile(
            prefix="tokensentry-ca-", suffix=".pem", delete=False
        ) as combined:
            combined.write(Path(certifi.where()).read_bytes() + b"\n" + pem)
        _BUNDLES[pem] = combined.name
        atexit.register(Path(combined.name).unlink, missing_ok=True)  # one per run, not kept
    return _BUNDLES[pem]


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str
    org_id: str | None
    user_id: str | None

    def __repr__(self) -> str:  # the token itself never reaches a log line
        return f"Token(instance_url={self.instance_url!r}, org_id={self.org_id!r})"


def obtain_token(org: OrgConfig, session: requests.Session, timeout: float) -> Token:
    auth = org.auth
    if auth is None:
        raise OrgError(f"orgs.{org.alias}.auth: missing; the ingest job needs credentials")
    if auth.method == "access_token":
        assert auth.token is not None
        return Token(auth.token.resolve().strip(), org.instance_url, org.org_id, None)
    url = f"{org.login_url}/services/oauth2/token"
    if auth.method == "jwt":
        assert auth.private_key is not None
        audience = org.settings.get("jwt_audience") or _audience(org.login_url)
        claims = {
            "iss": auth.consumer_key,
            "sub": auth.username,
            "aud": audience,
            "exp": int(time.time()) + 180,
        }
        try:
            assertion = jwt.encode(claims, auth.private_key.resolve(), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise OrgError(
                f"orgs.{org.alias}.auth.private_key: not a PEM RSA private key "
                f"({auth.private_key.describe()})"
            ) from None
        form = {"grant_type": JWT_GRANT, "assertion": assertion}
    else:
        assert auth.consumer_secret is not None
        form = {
            "grant_type": "client_credentials",
            "client_id": auth.consumer_key or "",
            "client_secret": auth.consumer_secret.resolve(),
        }
    try:
        response = session.post(url, data=form, timeout=timeout)
    except requests.RequestException as exc:
        raise OrgError(f"{org.alias}: cannot reach {url}: {type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        error = body.get("error", f"HTTP {response.status_code}")
        detail = body.get("error_description", "")
        raise OrgError(
            f"{org.alias}: token request to {url} refused: {error}"
            + (f" ({detail})" if detail else "")
            + "; check the app's consumer key, the certificate or secret, and that the user "
            "is pre-authorized for the app"
        )
    identity = urlparse(body.get("id", "")).path.strip("/").split("/")
    org_id = identity[-2] if len(identity) >= 3 and is_salesforce_id(identity[-2]) else None
    return Token(
        body["access_token"],
        body.get("instance_url", org.instance_url).rstrip("/"),
        to18(org_id) if org_id else org.org_id,
        identity[-1] if org_id else None,
    )


def _audience(login_url: str) -> str:
    host = urlparse(login_url).hostname or ""
    return (
        login_url
        if host in ("login.salesforce.com", "test.salesforce.com")
        else (
            "https://test.salesforce.com" if ".sandbox." in host else "https://login.salesforce.com"
        )
    )


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    return isinstance(exc, SalesforceGeneralError) and exc.status >= 500


class OrgSession:
    """One org's authenticated client, with retries, one re-authentication, and the reserve."""

    def __init__(
        self,
        org: OrgConfig,
        *,
        timeout: float = 120.0,
        reserve: float = 0.1,
        retry_wait: float = 1.0,
        attempts: int = 5,
    ) -> None:
        self.org = org
        self.timeout = timeout
        self.reserve_fraction = reserve
        self.session = PinnedSession(trust_bundle(org.ca_bundle))
        self.retrying = _Retrying(
            retry=retry_if_exception(_is_transient),
            wait=wait_random_exponential(multiplier=retry_wait, max=30 * retry_wait),
            stop=stop_after_attempt(attempts),
            reraise=True,
        )
        self.retries = 0
        self._connect()

    def _connect(self) -> None:
        self.token = obtain_token(self.org, self.session, self.timeout)
        self.sf = Salesforce(
            instance_url=self.token.instance_url,
            session_id=self.token.access_token,
            session=self.session,
            version=API_VERSION,
            object_pairs_hook=dict,  # simple-salesforce's default OrderedDict parses slower
        )
        self.org_id = self.token.org_id or self._learn_org_id()

    def _learn_org_id(self) -> str:
        result = self.call(lambda sf: sf.query("SELECT Id FROM Organization"))
        return to18(result["records"][0]["Id"])

    def call(self, action: Callable[[Salesforce], T]) -> T:
        """Run one API call: transient faults retried with backoff and jitter, an expired session
        re-authenticated once, the API limit and reserve turned into `LimitExceeded`."""
        reauthenticated = False
        while True:
            try:
                result = self.retrying(self._counted, action)
                break
            except SalesforceExpiredSession:
                if (
                    reauthenticated
                    or self.org.auth is None
                    or self.org.auth.method == "access_token"
                ):
                    raise OrgError(
                        f"{self.org.alias}: session expired or invalid (INVALID_SESSION_ID); "
                        "an access_token cannot be renewed here, get a new one"
                    ) from None
                reauthenticated = True
                self._connect()
            except SalesforceRefusedRequest as exc:
                if _error_code(exc) == "REQUEST_LIMIT_EXCEEDED":
                    raise LimitExceeded(
                        f"{self.org.alias}: Salesforce refused with REQUEST_LIMIT_EXCEEDED; "
                        "stopped this org, the next run resumes where it stopped"
                    ) from None
                raise NotAvailable(_describe(exc)) from None
            except SalesforceMalformedRequest as exc:
                code = _error_code(exc)
                if code in ("INVALID_TYPE", "INSUFFICIENT_ACCESS"):
                    raise NotAvailable(_describe(exc)) from None
                raise QueryRejected(f"{self.org.alias}: {_describe(exc)}", code) from None
            except SalesforceResourceNotFound as exc:
                raise ResourceNotFound(f"{self.org.alias}: {_describe(exc)}") from None
            except SalesforceError as exc:
                raise OrgError(f"{self.org.alias}: {_describe(exc)}") from None
            except requests.RequestException as exc:
                detail = " ".join(str(exc).split())[:300]  # URLs only: tokens travel in headers
                raise OrgError(
                    f"{self.org.alias}: network error after retries: {type(exc).__name__}: {detail}"
                ) from None
        self._check_reserve()
        return result

    def _counted(self, action: Callable[[Salesforce], T]) -> T:
        self.retries += 1
        return action(self.sf)

    def reserve_left(self) -> tuple[int, int] | None:
        usage = getattr(self.sf, "api_usage", {}).get("api-usage")
        if usage is None:
            return None
        return usage.total - usage.used, usage.total

    def _check_reserve(self) -> None:
        left = self.reserve_left()
        if left is not None and left[0] <= self.reserve_fraction * left[1]:
            raise LimitExceeded(
                f"{self.org.alias}: only {left[0]} of {left[1]} daily API requests left, the "
                f"reserve kept for the org's own integrations ({self.reserve_fraction:.0%}); "
                "stopped this org"
            )

    def check_limits_first(self) -> dict[str, Any]:
        limits = self.call(lambda sf: sf.limits())
        daily = limits.get("DailyApiRequests", {})
        maximum, remaining = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
        if maximum and remaining <= self.reserve_fraction * maximum:
            raise LimitExceeded(
                f"{self.org.alias}: only {remaining} of {maximum} daily API requests left, "
                f"within the {self.reserve_fraction:.0%} reserve; skipped"
            )
        return limits

    def query_pages(self, soql: str) -> Iterator[list[dict[str, Any]]]:
        page = self.call(lambda sf: sf.query(soql, timeout=self.timeout))
        yield page.get("records", [])
        while not page.get("done", True):
            locator = page["nextRecordsUrl"]
            page = self.call(
                lambda sf, url=locator: sf.query_more(
                    url, identifier_is_url=True, timeout=self.timeout
                )
            )
            yield page.get("records", [])

    def rest(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call(lambda sf: sf.restful(path, params=params, timeout=self.timeout))

    def download(self, path: str, target: Path, expected: int | None) -> int:
        """Stream a binary resource (an EventLogFile's LogFile) to `target`; return its size."""
        url = f"https://{self.sf.sf_instance}{path}"

        def fetch(sf: Salesforce) -> int:
            with self.session.get(
                url, headers=sf.headers, stream=True, timeout=self.timeout
            ) as response:
                if response.status_code == 401:
                    raise SalesforceExpiredSession(url, 401, "LogFile", response.content)
                if response.status_code >= 300:
                    exception_handler(response, "LogFile")  # simple-salesforce's error classes
                size = 0
                with target.open("wb") as handle:
                    for chunk in response.iter_content(chunk_size=1 << 20):
                        handle.write(chunk)
                        size += len(chunk)
            if expected is not None and size < expected:
                raise requests.ConnectionError(f"LogFile truncated: {size} of {expected} bytes")
            return size

        return self.call(fetch)


def _error_code(exc: SalesforceError) -> str | None:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode")
    return None


def _describe(exc: SalesforceError) -> str:
    code = _error_code(exc) or f"HTTP {exc.status}"
    content = exc.content
    message = ""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        message = " ".join(str(content[0].get("message", "")).split())[:300]
    return f"{exc.resource_name or 'request'} failed: {code} {message}".strip()
