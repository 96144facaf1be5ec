"""Durable click capture: a per-process append-only spool file, drained to the database in batches.

The guarantee (see docs/operations/durability.md): a redirect is answered only after its click line has been
written to the spool with ``os.write`` on an ``O_APPEND`` file. From then on the line is in the
kernel's page cache and survives a crash of the process; with ``spool_fsync = true`` it is also
fsync'ed before answering and survives power loss. A drain thread per process writes new lines to the
database in batches; rows are keyed on the click id ``tid`` and inserted with "on conflict do
nothing", and the aggregates are updated in the same transaction only for rows that were new, so a
line written twice (a replay after a crash between commit and bookkeeping) is counted once.

Each process owns its segment file and holds an exclusive ``flock`` on it for its whole life. A
segment whose lock can be taken belongs to a dead process: :meth:`Spool.replay_orphans` (one process
at a time, under ``replay.lock``) writes it to the database and deletes it.

The same class keeps other spools in the same folder under another segment name: accepted
conversions while the database is unreachable (``conversions-<pid>-<ns>.jsonl``, see
``tracker/conversions/spool.py``). Each name has its own segments and replay lock.
"""
from __future__ import annotations

import atexit
import fcntl
import json
import logging
import multiprocessing.util
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROTATE_BYTES = 8 * 1024 * 1024
BATCH = 2000
MAX_BACKLOG = 20_000  # spooled lines of one process not yet in the database before requests slow down
BACKPRESSURE_SLEEP = 0.002
# One database write taking longer than this waits on a stalled database: stop slowing requests down then.
STUCK_DRAIN_SECONDS = 5.0

Writer = Callable[[list[dict[str, Any]]], int]


def _complete_lines(data: bytes) -> tuple[list[bytes], int]:
    """Split ``data`` into its complete lines and the number of bytes they take."""
    end = data.rfind(b"\n")
    if end < 0:
        return [], 0
    return data[: end + 1].splitlines(), end + 1


def _parse(lines: list[bytes], path: Path) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            # Only a torn write after power loss without fsync can produce this; keep going.
            log.error("spool %s: skipping an unreadable line %r", path.name, line[:200])
    return records


class Spool:
    """The spool folder of one service: appends from request threads, drains from a thread."""

    def __init__(self, directory: Path, writer: Writer, fsync: bool = False,
                 interval: float = 0.2, rotate_bytes: int = ROTATE_BYTES, name: str = "clicks") -> None:
        self.directory = Path(directory)
        self.name = name  # segments are <name>-<pid>-<ns>.jsonl
        self.segment_glob = f"{name}-*.jsonl"
        self.replay_lock = "replay.lock" if name == "clicks" else f"replay-{name}.lock"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.writer = writer
        self.fsync = fsync
        self.interval = interval
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()       # guards the current segment (appends and rotation)
        self._drain_lock = threading.Lock()  # one drain at a time in this process
        self._pid: int | None = None
        self._fd: int = -1
        self._path: Path | None = None
        self._written = 0
        self._retired: list[tuple[Path, int]] = []  # (path, fd) of rotated segments still to drain
        self._offsets: dict[Path, int] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.max_backlog = MAX_BACKLOG
        self._appended = 0  # lines this process wrote, and of those, lines its drain has handled
        self._drained = 0
        self._healthy = True  # the last drain reached the database
        self._write_started = 0.0  # monotonic start of the database write running now (0: none)

    # ---- request path --------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> None:
        """Write one click durably (see module docstring); raises ``OSError`` if it cannot."""
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        with self._lock:
            if self._pid != os.getpid():
                self._open_segment()
            os.write(self._fd, line)
            if self.fsync:
                os.fsync(self._fd)
            self._written += len(line)
            self._appended += 1
            behind = self._appended - self._drained > self.max_backlog
        if behind and self._healthy and self._thread is not None and not self._drain_stuck():
            # Back-pressure: more is arriving than the drain writes. Waiting a moment (without the GIL)
            # lets the drain thread catch up, so the spool stays a few seconds deep under sustained
            # load instead of growing without bound. Never while the database is unreachable: then
            # the spool is what keeps redirects answering.
            time.sleep(BACKPRESSURE_SLEEP)

    def _drain_stuck(self) -> bool:
        """True while one write to the database has been waiting for more than a few seconds (stalled).

        Measured per batch, not per drain: under sustained load one drain runs for as long as lines
        keep coming, and back-pressure must keep working then.
        """
        started = self._write_started
        return started > 0 and time.monotonic() - started > STUCK_DRAIN_SECONDS

    def _write(self, records: list[dict[str, Any]]) -> None:
        self._write_started = time.monotonic()
        try:
            self.writer(records)
        finally:
            self._write_started = 0.0

    def _open_segment(self) -> None:
        """Open a new segment for this process (called at first use after start or fork, and to rotate)."""
        pid = os.getpid()
        if self._pid != pid:  # after a fork the parent's segments are not ours
            self._fd, self._path, self._retired, self._offsets = -1, None, [], {}
            self._appended = self._drained = 0
            self._thread = None
            self._drain_lock = threading.Lock()
            self._stop = threading.Event()
        path = self.directory / f"{self.name}-{pid}-{time.time_ns()}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if self._path is not None:
            self._retired.append((self._path, self._fd))
        self._pid, self._fd, self._path, self._written = pid, fd, path, 0
        self._offsets[path] = 0

    # ---- draining ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start this process's drain thread if it is not running."""
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._open_segment()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tracker-spool-drain", daemon=True)
                self._thread.start()
                # On a graceful exit (SIGTERM to the server) write what is left; after a crash the
                # segment is replayed instead (at the next start or by another process's drain).
                # Forked multiprocessing workers (granian's) leave with os._exit, which skips atexit
                # handlers but runs multiprocessing's finalizers: register with both.
                atexit.register(self.stop)
                multiprocessing.util.Finalize(None, self.stop, exitpriority=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the drain thread after a last drain."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        last_replay = 0.0
        failures = 0
        while not self._stop.is_set():
            try:
                self.drain()
                if time.monotonic() - last_replay > 30:
                    self.replay_orphans()
                    last_replay = time.monotonic()
                failures = 0
                self._healthy = True
            except Exception:  # the database may be down: the lines stay in the spool, retry later
                failures += 1
                self._healthy = False
                log.exception("%s spool drain failed (attempt %d); lines stay spooled", self.name, failures)
            self._stop.wait(min(self.interval * (2 ** min(failures, 5)), 10.0))
        try:
            self.drain()
        except Exception:
            log.exception("last spool drain failed; the spool file is replayed at next start")

    def drain(self) -> int:
        """Write this process's new spool lines to the database; return how many lines were handled."""
        with self._drain_lock:
            with self._lock:
                if self._path is None or self._pid != os.getpid():
                    return 0
                if self._written >= self.rotate_bytes:
                    self._open_segment()
                current = self._path
                retired = list(self._retired)
            handled = 0
            for path, fd in retired:
                handled += self._drain_file(path)
                with self._lock:
                    self._retired.remove((path, fd))
                    self._offsets.pop(path, None)
                path.unlink(missing_ok=True)
                os.close(fd)  # releases the flock
            handled += self._drain_file(current)
            return handled

    def _drain_file(self, path: Path) -> int:
        offset = self._offsets.get(path, 0)
        handled = 0
        with path.open("rb") as fh:
            while True:
                fh.seek(offset)
                lines: list[bytes] = []
                consumed = 0
                for raw in iter(fh.readline, b""):
                    if not raw.endswith(b"\n"):
                        break  # a line still being written
                    lines.append(raw)
                    consumed += len(raw)
                    if len(lines) >= BATCH:
                        break
                if not lines:
                    return handled
                self._write(_parse(lines, path))
                offset += consumed
                self._offsets[path] = offset
                handled += len(lines)
                self._drained += len(lines)

    # ---- crash recovery ------------------------------------------------------------------------
    def orphan_segments(self) -> Iterator[tuple[Path, int]]:
        """Yield (path, locked fd) for segments whose owning process is gone."""
        own = {self._path, *(p for p, _ in self._retired)} if self._pid == os.getpid() else set()
        for path in sorted(self.directory.glob(self.segment_glob)):
            if path in own:
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            yield path, fd

    def replay_orphans(self) -> int:
        """Write the segments of dead processes to the database and delete them; return lines replayed."""
        lock_fd = os.open(self.directory / self.replay_lock, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another process is replaying
            replayed = 0
            for path, fd in self.orphan_segments():
                try:
                    data = path.read_bytes()
                    lines, _ = _complete_lines(data)
                    records = _parse(lines, path)
                    for start in range(0, len(records), BATCH):
                        self._write(records[start:start + BATCH])
                    replayed += len(lines)
                    path.unlink(missing_ok=True)
                finally:
                    os.close(fd)
            return replayed
        finally:
            os.close(lock_fd)

    def status(self) -> dict[str, Any]:
        """Describe the spool folder: segments, their sizes, and bytes not yet drained by this process."""
        segments = []
        for path in sorted(self.directory.glob(self.segment_glob)):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            segments.append({"file": path.name, "bytes": size})
        return {"directory": str(self.directory), "segments": segments}
