"""The ``tracker`` program (console script ``tracker = tracker.cli:main``).

It builds the application with :func:`tracker.create_app`, whose factory registers the commands
(:mod:`tracker.commands`, ``tracker/auth/cli.py``, ``tracker/privacy/cli.py``, ``tracker/reports/cli.py``).
"""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from tracker import create_app

__all__ = ["main"]


def _create_app() -> Flask:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """Tracked links, QR codes and click capture (see docs/)."""
