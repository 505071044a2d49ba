"""Tables and repositories of the mobile-gateway service (every SQL query lives here)."""
