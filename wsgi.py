"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``."""

import gc

from reintegration_hub import create_app

app = create_app()
# What start-up made (routes, mappers, compiled templates) lives as long as the process: frozen
# out of the collector's reach, a full collection in the middle of a request no longer walks
# it (about 100 ms a time on the dashboard's large responses; bench/dashboard.py does the same).
gc.freeze()
