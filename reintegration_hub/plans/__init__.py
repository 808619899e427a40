"""Reintegration plans: lines within the budget cap, revisions, review and approval."""
