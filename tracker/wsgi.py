"""WSGI entry point for production servers: ``granian --interface wsgi tracker.wsgi:app``."""
from tracker import create_app

app = create_app()
