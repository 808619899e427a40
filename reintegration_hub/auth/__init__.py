"""Users, roles, offices, log-in and personal API tokens."""
