"""A real HTTP receiver on loopback (http.server in a thread) for the webhook tests: it keeps
every request (headers and raw body), answers with a scripted status per request, and verifies
signatures the way the README tells a receiver to, written here from that text, not imported
from the sender."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]


@dataclass
class Script:
    statuses: list[int] = field(default_factory=list)  # answered in turn, then `then`
    then: int = 200
    delay_s: float = 0.0  # wait before answering (a receiver slower than the sender's timeout)


class Receiver:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's hook name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        Request(self.path, {k: v for k, v in self.headers.items()}, body)
                    )
                    script = receiver.script
                    status = script.statuses.pop(0) if script.statuses else script.then
                if script.delay_s:
                    time.sleep(script.delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hooks/tokensentry") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def verified(secret: bytes, request: Request, now: float | None = None) -> bool:
    """The README's receiver check: HMAC-SHA256 over `{timestamp}.{raw body}`, `v1=` + hex,
    compared in constant time; a timestamp more than 5 minutes away is refused."""
    stamp = request.headers.get("X-Tokensentry-Timestamp", "")
    given = request.headers.get("X-Tokensentry-Signature", "")
    if not stamp.isdigit() or abs((now or time.time()) - int(stamp)) > 300:
        return False
    expected = hmac.new(secret, stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, "v1=" + expected)
