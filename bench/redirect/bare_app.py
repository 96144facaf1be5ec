"""The baseline of the redirect benchmark: a plain Flask app whose only route answers a 302.

``bench/redirect/run.py`` serves it with the same server, worker count and threads as
``tracker serve``, so that the tracker's redirect can be compared with the cost of Flask itself.
No lookup, no cookie, no spool, no database.
"""
from __future__ import annotations

from flask import Flask, Response, redirect

TARGET = "https://example.com/landing?utm_source=bench&utm_medium=cpc"


def create_app() -> Flask:
    """Build the bare app: ``GET /r/<code>`` answers 302 to a fixed URL."""
    app = Flask(__name__)

    @app.get("/r/<code>")
    def follow(code: str) -> Response:
        return redirect(TARGET, 302)

    return app


app = create_app()  # the WSGI entry point (``bare_app:app``), as tracker/wsgi.py does for the service
