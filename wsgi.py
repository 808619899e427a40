"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``."""

from reintegration_hub import create_app

app = create_app()
