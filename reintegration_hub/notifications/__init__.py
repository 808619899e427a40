"""E-mail delivery: sending the outbox, and the page where administrators watch it."""
