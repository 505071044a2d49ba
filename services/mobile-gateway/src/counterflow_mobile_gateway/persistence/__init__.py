"""Tables and repositories of the mobile-gateway service (every SQL query lives here).

Repositories are plain keyword-only async functions taking the caller's session; they
never commit. Rows come back as read-only mappings (column name -> value).
"""
