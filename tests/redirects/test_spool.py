"""Durability: spooled clicks reach the database exactly once, across failures and crashes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import sqlalchemy as sa

from tracker.redirects.models import Click, LinkDailyStat
from tracker.redirects.spool import Spool


def count(session, model=Click):
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def daily_total(session):
    session.expire_all()
    return session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LinkDailyStat.clicks), 0)))


def test_drain_twice_and_replay_count_each_click_once(app, client, make_link, session):
    spool = app.extensions["tracker.redirects"]["spool"]
    link = make_link()
    for _ in range(5):
        client.get(f"/r/{link['code']}")
    assert spool.drain() == 5
    assert spool.drain() == 0
    # A crash after the database commit but before the spool file was deleted: the same lines come
    # again. Replaying them must change nothing.
    lines = [json.loads(line) for p in spool.directory.glob("clicks-*.jsonl") for line in p.read_text().splitlines()]
    assert len(lines) == 5
    spool.writer(lines)
    assert count(session) == 5 and daily_total(session) == 5


def test_a_nul_in_spooled_headers_does_not_block_the_drain(app, client, make_link, session):
    spool = app.extensions["tracker.redirects"]["spool"]
    link = make_link()
    client.get(f"/r/{link['code']}")
    lines = [json.loads(line) for p in spool.directory.glob("clicks-*.jsonl") for line in p.read_text().splitlines()]
    lines[0].update(ua="Mozilla/5.0\x00 (X11)", ref="www.example.com\x00")
    assert spool.writer(lines) == 1
    session.expire_all()
    click = session.scalar(sa.select(Click))
    assert (click.user_agent, click.referrer_host) == ("Mozilla/5.0 (X11)", "www.example.com")


def test_failed_write_keeps_lines_for_the_next_drain(tmp_path):
    written: list[dict] = []
    calls = {"n": 0}

    def flaky(records):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database is down")
        written.extend(records)
        return len(records)

    spool = Spool(tmp_path, flaky)
    for i in range(3):
        spool.append({"tid": str(i)})
    try:
        spool.drain()
    except ConnectionError:
        pass
    assert written == []
    assert spool.drain() == 3
    assert [r["tid"] for r in written] == ["0", "1", "2"]


def test_partial_line_waits_until_complete(tmp_path):
    got: list[dict] = []
    spool = Spool(tmp_path, lambda recs: got.extend(recs) or len(recs))
    spool.append({"tid": "a"})
    fd = os.open(spool._path, os.O_WRONLY | os.O_APPEND)  # a writer caught mid-line
    os.write(fd, b'{"tid":"b"')
    assert spool.drain() == 1
    os.write(fd, b"}\n")
    os.close(fd)
    assert spool.drain() == 1
    assert [r["tid"] for r in got] == ["a", "b"]


def test_rotation_drains_and_deletes_old_segments(tmp_path):
    got: list[dict] = []
    spool = Spool(tmp_path, lambda recs: got.extend(recs) or len(recs), rotate_bytes=200)
    for i in range(50):
        spool.append({"tid": f"{i:04d}", "pad": "x" * 20})
        if i % 10 == 9:
            spool.drain()
    spool.drain()
    spool.drain()
    assert [r["tid"] for r in got] == [f"{i:04d}" for i in range(50)]
    assert len(list(tmp_path.glob("clicks-*.jsonl"))) == 1  # only the live segment is left


def test_live_segment_of_another_process_is_not_replayed(tmp_path):
    owner = Spool(tmp_path, lambda recs: len(recs))
    owner.append({"tid": "x"})
    other = Spool(tmp_path, lambda recs: (_ for _ in ()).throw(AssertionError("must not replay")))
    assert other.replay_orphans() == 0  # the owner still holds its flock


CRASHER = textwrap.dedent("""
    import os, signal, sys
    from tracker import create_app
    app = create_app({"database_url": sys.argv[1], "instance_path": sys.argv[2], "secret_key": "s",
                      "ip_hash_secret": "i", "SPOOL_BACKGROUND": False})
    client = app.test_client()
    for _ in range(int(sys.argv[4])):
        assert client.get("/r/" + sys.argv[3]).status_code == 302
    print("answered", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # crash before anything was drained
""")


def test_answered_clicks_survive_sigkill_and_are_replayed_once(app, make_link, session, tmp_path):
    link = make_link()
    settings = app.config["SETTINGS"]
    proc = subprocess.run([sys.executable, "-c", CRASHER, settings.database_url, settings.instance_path,
                           link["code"], "40"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "answered" in proc.stdout
    assert count(session) == 0
    spool = app.extensions["tracker.redirects"]["spool"]
    assert spool.replay_orphans() == 40
    assert count(session) == 40 and daily_total(session) == 40
    assert not list(Path(settings.spool_path).glob("clicks-*.jsonl"))
    assert spool.replay_orphans() == 0
    assert count(session) == 40


def test_cli_spool_replay(app, runner, make_link, session):
    link = make_link()
    settings = app.config["SETTINGS"]
    subprocess.run([sys.executable, "-c", CRASHER, settings.database_url, settings.instance_path,
                    link["code"], "3"], capture_output=True, timeout=120)
    status = json.loads(runner.invoke(args=["spool", "status"]).output)
    assert len(status["segments"]) == 1 and status["segments"][0]["bytes"] > 0
    result = runner.invoke(args=["spool", "replay"])
    assert result.exit_code == 0 and "replayed 3" in result.output
    assert count(session) == 3


def test_background_drain_thread_writes_clicks(make_app, make_link, session):
    import time
    app = make_app(SPOOL_BACKGROUND=True)
    link = make_link()
    client = app.test_client()
    for _ in range(3):
        client.get(f"/r/{link['code']}")
    spool = app.extensions["tracker.redirects"]["spool"]
    deadline = time.monotonic() + 20
    while count(session) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    spool.stop()
    assert count(session) == 3



def _append_over_limit(tmp_path, monkeypatch, writer, healthy):
    """Append 8 lines with a backlog limit of 3 and a drain thread that has not run; count the pauses."""
    import tracker.redirects.spool as spool_module

    pauses: list[float] = []
    monkeypatch.setattr(spool_module.time, "sleep", pauses.append)
    spool = Spool(tmp_path, writer)
    spool.max_backlog = 3
    spool.append({"tid": "0"})  # opens this process's segment
    spool._healthy = healthy  # what the drain thread records after each attempt
    spool._thread = object()  # type: ignore[assignment]  # stands for a running drain thread
    for i in range(1, 8):
        spool.append({"tid": str(i)})
    return pauses, spool


def test_backpressure_slows_appends_when_the_drain_falls_behind(tmp_path, monkeypatch):
    pauses, spool = _append_over_limit(tmp_path, monkeypatch, len, healthy=True)
    assert len(pauses) == 5  # lines 4 to 8 were over the limit
    assert spool.drain() == 8
    spool.append({"tid": "9"})
    assert len(pauses) == 5  # caught up: no more pauses


def test_no_backpressure_while_the_database_is_down(tmp_path, monkeypatch):
    def down(records):
        raise ConnectionError("database is down")

    pauses, _ = _append_over_limit(tmp_path, monkeypatch, down, healthy=False)
    assert pauses == []  # the spool is what keeps redirects answering: never slow them then


def _stuck_seen_while_draining(tmp_path, monkeypatch, lines, write_seconds):
    """Drain ``lines`` one per batch, each write taking ``write_seconds``; was the drain ever called stuck?"""
    import threading

    import tracker.redirects.spool as spool_module

    monkeypatch.setattr(spool_module, "STUCK_DRAIN_SECONDS", 0.5)
    monkeypatch.setattr(spool_module, "BATCH", 1)
    spool = Spool(tmp_path, lambda records: time.sleep(write_seconds))
    for i in range(lines):
        spool.append({"tid": str(i)})
    seen, done = [], threading.Event()

    def watch():
        while not done.is_set():
            seen.append(spool._drain_stuck())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    drainer = threading.Thread(target=spool._run)  # the drain thread's own loop
    drainer.start()
    try:
        deadline = time.monotonic() + 30
        while spool._drained < lines and time.monotonic() < deadline:
            time.sleep(0.01)
        assert spool._drained == lines
    finally:
        spool._stop.set()
        drainer.join()
        done.set()
        watcher.join()
    return any(seen)


def test_a_long_drain_of_quick_batches_keeps_backpressure(tmp_path, monkeypatch):
    # Under sustained load one drain runs for seconds, batch after batch: that is not a stalled
    # database, and back-pressure must stay on (else the spool grows without bound).
    assert not _stuck_seen_while_draining(tmp_path, monkeypatch, lines=20, write_seconds=0.05)


def test_a_write_that_hangs_counts_as_stuck(tmp_path, monkeypatch):
    assert _stuck_seen_while_draining(tmp_path, monkeypatch, lines=1, write_seconds=1.0)

