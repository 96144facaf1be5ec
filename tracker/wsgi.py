"""WSGI entry point for production servers: ``granian --interface wsgi tracker.wsgi:app``.

Two interpreter settings keep the redirect's tail latency down while the worker's drain thread
writes batches (``bench/redirect`` measures both):

- After the app is built, everything allocated so far (modules, the app, pandas and SQLAlchemy
  internals: a quarter of a million objects) is moved out of the garbage collector's reach with
  ``gc.freeze()``. Otherwise every full collection walks all of it while holding the GIL, which
  stalled every request thread of the worker for 100-200 ms a few times a minute under load.
- The GIL switch interval is 0.5 ms instead of 5 ms, so a request thread waits less for the
  drain thread's Python work (p99 on SQLite about 33 ms -> 20 ms, for about 5 % fewer requests/s).
"""
import gc
import sys

from tracker import create_app

app = create_app()
gc.collect()
gc.freeze()
sys.setswitchinterval(0.0005)
