"""Benchmarks: run as modules against a throw-away database (see README.md)."""
