"""HTTP API of the selfservice service (routers under ``/v1``)."""
