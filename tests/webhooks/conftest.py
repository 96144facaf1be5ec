"""A real HTTP receiver on 127.0.0.1 (a thread), and apps that may send to it."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Receiver:
    """Answers POSTs with the next status of ``statuses`` (then 200) and records what it got.

    ``hang``: never answer until the test ends (the handler waits on an event). ``keep_alive``: answer as
    HTTP/1.1 and keep the connection open (each request records the client's port, ``port``).
    """

    def __init__(self, statuses: list[int] | None = None, hang: bool = False, keep_alive: bool = False) -> None:
        self.statuses = list(statuses or [])
        self.hang = hang
        self.received: list[dict[str, Any]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append({"headers": dict(self.headers.items()), "body": body, "path": self.path,
                                          "port": self.client_address[1]})
                if receiver.hang:
                    receiver.release.wait(30)
                    return
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?x=1"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    """Factory: ``receiver(statuses=[500, 500], hang=False)`` starts a receiver on 127.0.0.1."""
    made: list[Receiver] = []

    def make(statuses: list[int] | None = None, hang: bool = False, keep_alive: bool = False) -> Receiver:
        made.append(Receiver(statuses, hang, keep_alive))
        return made[-1]
    yield make
    for r in made:
        r.close()


@pytest.fixture
def local_app(make_app: Callable[..., Any]) -> Any:
    """An app that may send to the local receiver (webhook_allow_private_addresses = true)."""
    return make_app(webhook_allow_private_addresses=True)
