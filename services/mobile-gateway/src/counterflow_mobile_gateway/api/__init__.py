"""HTTP API of the mobile-gateway service (routers under ``/v1``)."""
