"""Demo data: the offices of the source pages, one user per role, a Latvian-style grant."""
