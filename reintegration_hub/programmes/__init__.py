"""Grants and programme rules: budgets, co-financing, targets (caps and templates come later)."""
