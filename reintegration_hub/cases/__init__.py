"""Returnee cases: registration, dependants, vulnerability, consent, lifecycle, duplicates."""
