"""Deliveries of plan lines: what was handed over, paid and certified."""
