"""Events the mobile-gateway service publishes and the handlers of those it consumes."""
