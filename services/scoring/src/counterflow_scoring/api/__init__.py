"""HTTP API of the scoring service (routers under ``/v1``)."""
