"""Tables and repositories of the scoring service (every SQL query lives here)."""
