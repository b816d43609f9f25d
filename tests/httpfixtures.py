"""A real local HTTP server that answers with recorded provider payloads.

Tests point a provider client's ``base_url`` at it, so the client's live code path (httpx,
sockets, status handling, retries) is what is under test. Routes map a path to a queue of
answers; the last answer repeats. Every request is recorded (path, query, headers, body).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class FixtureServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Answer]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.seen.append(
                        Seen(
                            self.command,
                            parts.path,
                            parse_qs(parts.query),
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    queue = server.routes.get(parts.path)
                    if not queue:
                        answer = Answer(404, b'{"error": "no such route in FixtureServer"}')
                    else:
                        answer = queue[0] if len(queue) == 1 else queue.pop(0)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(
        self,
        path: str,
        *answers: Answer,
    ) -> None:
        self.routes[path] = list(answers)

    def file(self, path: str, file: Path, status: int = 200, **kw: str) -> None:
        ctype = kw.get("content_type") or (
            "application/xml"
            if file.suffix == ".xml"
            else "text/html"
            if file.suffix == ".html"
            else "application/json"
        )
        self.route(path, Answer(status, file.read_bytes(), ctype))

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
