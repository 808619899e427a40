"""Prefect flows over the application services; the only package that imports ``prefect``."""
