"""A throwaway PostgreSQL cluster and a TCP proxy that tests (and ``bench/soak``) can stop, cut or stall.

The machine's shared PostgreSQL server is never touched: :class:`ThrowawayPostgres` runs ``initdb``
and ``pg_ctl`` in a temporary folder on a free port (as the ``postgres`` user when run as root, since
``initdb`` refuses root), and :class:`TcpProxy` sits between the service and a server so that a test
can cut every connection or stall them (accept and hold, forward nothing), as a network fault would.
"""
from __future__ import annotations

import os
import pwd
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
PG_ENV = "TRACKER_TEST_POSTGRES_URL"


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A new empty schema on the shared server of ``TRACKER_TEST_POSTGRES_URL``: its URL, dropped afterwards.

    The URL's ``search_path`` is the schema, so runs never see each other's tables. Skips the calling
    test when the variable is not set.
    """
    import pytest
    import sqlalchemy as sa

    from tracker.config import normalise_database_url
    from tracker.db import make_engine

    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped (CI sets it)")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(normalise_database_url(base, "."))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield normalise_database_url(f"{base}{sep}options=-csearch_path%3D{schema}", ".")
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return None


def missing_reason() -> str | None:
    """Why a throwaway cluster cannot be made here (None when it can)."""
    for name in ("initdb", "pg_ctl"):
        if _pg_bin(name) is None:
            return f"{name} is not installed (Debian: apt-get install postgresql): throwaway-cluster tests skipped"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as: throwaway-cluster tests skipped"
        if shutil.which("runuser") is None:
            return "running as root without runuser: throwaway-cluster tests skipped"
    return None


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own in a temporary folder; ``stop()``/``start()`` at will; ``remove()``."""

    def __init__(self) -> None:
        reason = missing_reason()
        if reason:
            raise RuntimeError(reason)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tracker-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._user = None
        if os.geteuid() == 0:
            self._user = "postgres"
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/postgres"

    def url_via(self, port: int) -> str:
        """The URL of this cluster through a proxy listening on ``port``."""
        return f"postgresql://postgres@{HOST}:{port}/postgres"

    def _run(self, *cmd: str | None, timeout: float = 60) -> None:
        args = [c for c in cmd if c is not None]
        if self._user:
            args = ["runuser", "-u", self._user, "--", *args]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -c listen_addresses={HOST} -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, like a crash for them; ``immediate``: crash)."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def remove(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``; ``cut()``, ``stall()`` and ``resume()`` faults.

    - ``cut()``: close every open connection and refuse new ones (connection reset / refused).
    - ``stall()``: keep connections open and accept new ones, but forward no byte either way (a
      database that stops answering: only client-side timeouts notice).
    - ``resume()``: forward again (stalled connections continue where they were).
    """

    def __init__(self, target_port: int, target_host: str = HOST) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stalled = threading.Event()
        self._closed = False
        self._listen()
        self._thread = threading.Thread(target=self._pump, name="tcp-proxy", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self._listener = sock

    def _pump(self) -> None:
        while not self._closed:
            with self._lock:
                listener = self._listener
                pairs = list(self._pairs)
            readable = [listener] if listener else []
            if not self._stalled.is_set():
                readable += [s for pair in pairs for s in pair]
            try:
                ready, _, _ = select.select(readable, [], [], 0.05)
            except (OSError, ValueError):
                continue  # a socket was closed by cut(); look again
            for sock in ready:
                if sock is listener:
                    self._accept(listener)
                else:
                    self._forward(sock, pairs)

    def _accept(self, listener: socket.socket) -> None:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        client.setblocking(True)
        with self._lock:
            self._pairs.append((client, upstream))

    def _forward(self, sock: socket.socket, pairs: list[tuple[socket.socket, socket.socket]]) -> None:
        pair = next((p for p in pairs if sock in p), None)
        if pair is None:
            return
        other = pair[1] if sock is pair[0] else pair[0]
        try:
            data = sock.recv(65536)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self) -> None:
        """Close every connection and stop listening (new connections are refused)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
            listener, self._listener = self._listener, None
        if listener:
            listener.close()
        for pair in pairs:
            for s in pair:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
                s.close()

    def stall(self) -> None:
        """Stop forwarding (connections stay open; new ones are accepted and hang)."""
        self._stalled.set()

    def resume(self) -> None:
        """Forward again; after ``cut()``, listen again."""
        with self._lock:
            if self._listener is None:
                self._listen()
        self._stalled.clear()

    def close(self) -> None:
        self.cut()
        self._closed = True
        self._thread.join(2)
