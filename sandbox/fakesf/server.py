"""The fake Salesforce HTTPS server: routes, Salesforce's response and error shapes, faults."""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import trustme

from . import oauth, soql, threat, usage, users
from .latency import Latency, Server
from .model import ApiError, FakeOrg

API = re.compile(r"^/services/data/v(\d+\.\d+)/(.*)$")
OAUTH_TOKEN_CAP = 2500  # OauthToken: at most 2,500 rows per query, however it is paged
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class _Cursor:
    org: FakeOrg
    records: list[dict[str, Any]]
    offset: int
    version: str


@dataclass
class FakeSalesforce:
    """Serve `orgs` on https://127.0.0.1:<port> until `stop()`; use as a context manager."""

    orgs: list[FakeOrg]
    page_size: int = 2000
    latency: Latency = field(default_factory=Latency)  # added to every response (latency.py)
    ca_path: Path = field(init=False)
    url: str = field(init=False)
    issued_tokens: list[str] = field(default_factory=list, init=False)
    request_log: list[str] = field(default_factory=list, init=False)
    oauth: oauth.OAuthGrants = field(init=False)  # refresh-token and authorization-code grants

    def __post_init__(self) -> None:
        self.oauth = oauth.OAuthGrants(self)

    def start(self) -> FakeSalesforce:
        authority = trustme.CA()
        certificate = authority.issue_cert("127.0.0.1", "localhost")
        self._folder = tempfile.TemporaryDirectory(prefix="fakesf-")
        self.ca_path = Path(self._folder.name) / "fake-salesforce-ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_path))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        self._tokens: dict[str, FakeOrg] = {}
        self._token_users: dict[str, str] = {}  # token → the running user it was issued to
        self._cursors: dict[str, _Cursor] = {}
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = Server(("127.0.0.1", 0), handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{port}"  # plays login.salesforce.com and the instance
        self.my_domain_url = f"https://localhost:{port}"  # plays the orgs' My Domain host
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._folder.cleanup()

    def __enter__(self) -> FakeSalesforce:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def org(self, org_id: str) -> FakeOrg:
        return next(o for o in self.orgs if o.org_id == org_id)

    def revoke_all_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- token endpoint ------------------------------------------------------------------------

    def issue_token(
        self, form: dict[str, str], basic: tuple[str, str] | None, host: str = ""
    ) -> dict[str, Any]:
        grant = form.get("grant_type")
        instance_url = self.url
        if grant == JWT_GRANT:
            org, user_id = self._verify_jwt(form.get("assertion", ""))
        elif grant == "client_credentials":
            # Salesforce serves this flow on the org's My Domain host only, never on
            # login.salesforce.com (help: "OAuth 2.0 Client Credentials Flow").
            if host.rsplit(":", 1)[0] != "localhost":
                raise ApiError(400, "invalid_grant", "request not supported on this domain")
            instance_url = self.my_domain_url
            client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
            org, user_id = self._verify_client(client_id, secret)
        elif grant in oauth.GRANTS:
            return self.oauth.exchange(grant, form, basic)
        else:
            raise ApiError(400, "unsupported_grant_type", "grant type not supported")
        if org.faults.locked:
            raise ApiError(400, "inactive_org", "organization is locked")
        return self.mint_access_token(org, user_id, instance_url)

    def mint_access_token(self, org: FakeOrg, user_id: str, instance_url: str) -> dict[str, Any]:
        """A new session for the user and the token response's common fields."""
        token = f"{org.org_id[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[token] = org
            self._token_users[token] = user_id
            self.issued_tokens.append(token)
        return {
            "access_token": token,
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            "scope": "api",
            "instance_url": instance_url,
            "id": f"{instance_url}/id/{org.org_id}/{user_id}",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
        }

    def _verify_jwt(self, assertion: str) -> tuple[FakeOrg, str]:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise ApiError(400, "invalid_grant", "invalid assertion") from None
        candidates = [
            (org, app)
            for org in self.orgs
            for app in org.apps
            if app.consumer_key == claims.get("iss") and app.certificate_pem is not None
        ]
        if not candidates:
            raise ApiError(400, "invalid_client_id", "client identifier invalid")
        # The same app is installed in many orgs: the username says which org is meant.
        org, app = next(
            ((o, a) for o, a in candidates if claims.get("sub") in o.users), candidates[0]
        )
        try:
            jwt.decode(
                assertion,
                app.certificate_pem,
                algorithms=["RS256"],
                audience=[self.url, "https://login.salesforce.com", "https://test.salesforce.com"],
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(400, "invalid_grant", "expired authorization code") from None
        except jwt.PyJWTError:
            raise ApiError(400, "invalid_grant", "invalid assertion") from None
        user_id = org.users.get(claims.get("sub", ""))
        if user_id is None:
            raise ApiError(400, "invalid_grant", "user hasn't approved this consumer")
        return org, user_id

    def _verify_client(self, client_id: str, secret: str) -> tuple[FakeOrg, str]:
        # One host serves every fake org; the secret tells which org's app is meant (a real
        # org is told apart by its My Domain token endpoint).
        candidates = [(o, a) for o in self.orgs for a in o.apps if a.consumer_key == client_id]
        if not candidates:
            raise ApiError(400, "invalid_client_id", "client identifier invalid")
        for org, app in candidates:
            if app.consumer_secret is not None and app.consumer_secret == secret:
                return org, next(iter(org.users.values()))
        raise ApiError(400, "invalid_client", "invalid client credentials")

    def session_for(self, org_id: str) -> str:
        """A session id for the org, as one obtained outside tokensentry would be."""
        token = f"{org_id[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[token] = self.org(org_id)
            self.issued_tokens.append(token)
        return token

    # -- REST API --------------------------------------------------------------------------------

    def authorize(self, header: str | None) -> FakeOrg:
        token = (header or "").removeprefix("Bearer ").strip()
        with self._lock:
            org = self._tokens.get(token)
        if org is None:
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        number = org.next_request()
        faults = org.faults
        if faults.slow_seconds:
            time.sleep(faults.slow_seconds)
        if number in faults.expire_session_on:
            with self._lock:
                self._tokens.pop(token, None)
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if number in faults.limit_exceeded_on:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if number in faults.server_error_on:
            raise ApiError(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred.")
        return org

    def running_user(self, header: str | None) -> str | None:
        with self._lock:
            return self._token_users.get((header or "").removeprefix("Bearer ").strip())

    def query(
        self, org: FakeOrg, text: str, version: str, user_id: str | None = None
    ) -> dict[str, Any]:
        try:
            parsed = soql.parse(text)
        except soql.MalformedQuery as exc:
            raise ApiError(
                400, "MALFORMED_QUERY", f"\n{text}\n^\nERROR at Row:1:Column:1\n{exc}"
            ) from None
        if parsed.sobject not in org.licensed_objects:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"\n{text}\n^\nERROR at Row:1:Column:1\nsObject type '{parsed.sobject}' is not "
                "supported. If you are attempting to use a custom object, be sure to append the "
                "'__c' after the entity name.",
            )
        threat.check(parsed, version)  # Threat Detection objects: API version and fields
        if parsed.sobject == "LoginEvent":
            try:
                soql.check_login_event_filter(parsed.where)
            except soql.MalformedQuery as exc:
                raise ApiError(400, "MALFORMED_QUERY", str(exc)) from None
        records = soql.run(parsed, self._visible(org, parsed.sobject, user_id))
        if parsed.sobject == "OauthToken":
            records = records[:OAUTH_TOKEN_CAP]
        return self._page(_Cursor(org, records, 0, version))

    def _visible(self, org: FakeOrg, sobject: str, user_id: str | None) -> list[dict[str, Any]]:
        """What the running user may see: Salesforce filters quietly instead of refusing.

        Without Customize Application, OauthToken lists only the user's own tokens; without
        Manage Users, LoginHistory only the user's own logins (object reference, both objects).
        """
        if sobject == "UserPermissionAccess":
            return [{"attributes": {"type": sobject}, **org.permissions}]
        if sobject == "User":
            return users.user_records(org, user_id)
        records = org.objects.get(sobject, [])
        own_only = (
            sobject == "OauthToken" and not org.permissions["PermissionsCustomizeApplication"]
        ) or (sobject == "LoginHistory" and not org.permissions["PermissionsManageUsers"])
        return [r for r in records if r.get("UserId") == user_id] if own_only else records

    def next_page(self, org: FakeOrg, locator: str) -> dict[str, Any]:
        with self._lock:
            cursor = self._cursors.pop(locator, None)
        if cursor is None or cursor.org is not org:
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor)

    def _page(self, cursor: _Cursor) -> dict[str, Any]:
        end = cursor.offset + self.page_size
        page = {
            "totalSize": len(cursor.records),
            "done": end >= len(cursor.records),
            "records": cursor.records[cursor.offset : end],
        }
        if not page["done"]:
            locator = f"01g{secrets.token_hex(6)}-{end}"
            with self._lock:
                self._cursors[locator] = _Cursor(cursor.org, cursor.records, end, cursor.version)
            page["nextRecordsUrl"] = f"/services/data/v{cursor.version}/query/{locator}"
        return page

    def limits(self, org: FakeOrg) -> dict[str, Any]:
        remaining = max(0, org.daily_api_max - org.api_used)
        return {
            "DailyApiRequests": {"Max": org.daily_api_max, "Remaining": remaining},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
        }

    def log_file(self, org: FakeOrg, record_id: str) -> bytes:
        body = org.log_files.get(record_id)
        if body is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return body[: len(body) // 2] if org.faults.truncate_log_files else body

    def oauth_usage(
        self, org: FakeOrg, rest: list[str], params: dict[str, str], version: str
    ) -> dict[str, Any]:
        return usage.resource(org, rest, params, version)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSalesforce
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read request_log
        pass

    def _log_request_line(self) -> None:
        """One entry per request (not the base class's second), then the `latency` wait."""
        self.fake.request_log.append(f"{self.command} {urlparse(self.path).path}")
        self.fake.latency.wait()

    def do_POST(self) -> None:
        self._log_request_line()
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if urlparse(self.path).path != "/services/oauth2/token":
            return self._send_error(
                ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            )
        basic = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            basic = (user, password)
        try:
            self._send_json(200, self.fake.issue_token(form, basic, self.headers.get("Host", "")))
        except ApiError as exc:
            self._send_json(exc.status, {"error": exc.error_code, "error_description": exc.message})
        except (ConnectionError, ssl.SSLError):
            self.close_connection = True  # the client gave up before a late answer (a fault)

    def do_GET(self) -> None:
        self._log_request_line()
        url = urlparse(self.path)
        match = API.match(url.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/services/oauth2/authorize":
            return self._redirect(params)
        try:
            if len(self.path) + len(str(self.headers)) > users.URI_AND_HEADERS_MAX:
                raise ApiError(414, "URI_TOO_LONG", "URI and headers exceed 16,384 bytes")
            if not match:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            org = self.fake.authorize(self.headers.get("Authorization"))
            version, rest = match.group(1), match.group(2).rstrip("/").split("/")
            if rest[0] in ("query", "queryAll") and len(rest) == 1:
                user_id = self.fake.running_user(self.headers.get("Authorization"))
                body = self.fake.query(org, params.get("q", ""), version, user_id)
            elif rest[0] in ("query", "queryAll") and len(rest) == 2:
                body = self.fake.next_page(org, rest[1])
            elif rest == ["limits"]:
                body = self.fake.limits(org)
            elif (
                rest[:2] == ["sobjects", "EventLogFile"] and len(rest) == 4 and rest[3] == "LogFile"
            ):
                return self._send_csv(org, self.fake.log_file(org, rest[2]))
            elif rest[:3] == ["apps", "oauth", "usage"]:
                body = self.fake.oauth_usage(org, rest[3:], params, version)
            else:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            self._send_json(200, body, org)
        except ApiError as exc:
            self._send_error(exc)

    def _redirect(self, params: dict[str, str]) -> None:
        try:
            location = self.fake.oauth.authorize(params)
        except ApiError as exc:
            return self._send_json(
                exc.status, {"error": exc.error_code, "error_description": exc.message}
            )
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_error(self, exc: ApiError) -> None:
        self._send_json(exc.status, [{"message": exc.message, "errorCode": exc.error_code}])

    def _send_json(self, status: int, body: Any, org: FakeOrg | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        if org is not None:
            self.send_header("Sforce-Limit-Info", f"api-usage={org.api_used}/{org.daily_api_max}")
        self.end_headers()
        self.wfile.write(payload)

    def _send_csv(self, org: FakeOrg, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octetstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Sforce-Limit-Info", f"api-usage={org.api_used}/{org.daily_api_max}")
        self.end_headers()
        for start in range(0, len(body), 65536):
            chunk = body[start : start + 65536]
            self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
