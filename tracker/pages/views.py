"""Server-rendered pages for people (signed in with an API key for now)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from tracker.auth.access import login_required
from tracker.auth.service import verify_key
from tracker.db import db_session

bp = Blueprint("pages", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    error = None
    if request.method == "POST":
        key = verify_key(db_session(), request.form.get("key", "").strip())
        if key is not None:
            session.clear()
            session["key_id"] = key.id
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("pages.index"))
        error = "That key is not valid (or was revoked)."
    return render_template("pages/login.html", error=error), (401 if error else 200)


@bp.get("/")
@login_required
def index() -> str:
    return render_template("pages/index.html")
