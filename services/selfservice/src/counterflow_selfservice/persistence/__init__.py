"""Tables and repositories of the selfservice service (every SQL query lives here)."""
