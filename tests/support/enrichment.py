"""A company-data service on 127.0.0.1 (a real HTTP server in its own thread) that speaks
the HTTP enrichment provider's documented format (`docs/deploy.md`): it answers what the
test sets and records the requests it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KEY = "sk-test-0123456789abcdef"
GOOD = {
    "company": {
        "name": "Acme Analytics",
        "domain": "acme.test",
        "industry": "Software",
        "size": "51-200",
    },
    "location": {"country": "fr", "city": "Lyon"},
    "confidence": 0.9,
}


@dataclass
class Service:
    """What the server answers next (status, body) and the requests it got."""

    status: int = 200
    body: bytes = json.dumps(GOOD).encode()
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hold: bool = False
    url: str = ""


@contextmanager
def company_data_service() -> Iterator[Service]:
    state = Service()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.requests.append(
                {
                    "path": parts.path,
                    "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                    "authorization": self.headers.get("authorization"),
                }
            )
            if state.hold:  # a service that does not answer before the client gives up
                state.release.wait(10)
            self.send_response(state.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/lookup"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
