"""Tables and repositories of the ticketing service (every SQL query lives here)."""
