"""Domain of the mobile gateway: identity, branches, remote tickets, appointments,
hand-off drafts and notifications. Domain code never commits: the request (or the
consumed event) owns the transaction."""
