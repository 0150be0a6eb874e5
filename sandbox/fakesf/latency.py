"""How long the fake Salesforce takes to answer, and a server that holds many waiting callers.

A real org answers an API call in a network round trip plus its own time, typically 100-300
ms from a client in a cloud region (README: Scaling to many orgs). The fake answers in
microseconds, so an ingest against it measures the CPU of both sides, not how well the fetch
workers overlap their waits. `Latency` restores the wait: each response sleeps (no CPU) on its
request's thread for `ms` ± `jitter_ms`, drawn uniformly.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer


@dataclass(frozen=True)
class Latency:
    ms: float = 0.0
    jitter_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency and jitter are durations: 0 or more milliseconds")

    def wait(self) -> None:
        if self.ms or self.jitter_ms:
            spread = random.uniform(-self.jitter_ms, self.jitter_ms)
            time.sleep(max(0.0, self.ms + spread) / 1000)


class Server(ThreadingHTTPServer):
    """A thread per connection, as ThreadingHTTPServer; the listen backlog holds every fetch
    worker of a many-org ingest connecting at once (socketserver's default of 5 would drop
    their SYNs, each costing the client a 1 s retransmit)."""

    request_queue_size = 512
    daemon_threads = True
