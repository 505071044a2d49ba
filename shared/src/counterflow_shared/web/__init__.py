"""HTTP service defaults: problem+json errors, health, idempotency keys, auth, app factory."""
