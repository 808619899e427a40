"""Operations: a record of every run of the follow-up engine's flows, and the administrators'
page of recent runs (next to e-mail delivery)."""
