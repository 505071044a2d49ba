"""HTTP API of the ticketing service (routers under ``/v1``)."""
