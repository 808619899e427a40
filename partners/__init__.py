"""The partner marketplace: organisations, support options, capacity, search and referrals.

Imports only ``reintegration_hub.core`` and ``reintegration_hub.extensions`` (import-linter).
"""
