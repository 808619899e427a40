"""What every area shares: the declarative base, roles, domain errors, audit and access rules."""
