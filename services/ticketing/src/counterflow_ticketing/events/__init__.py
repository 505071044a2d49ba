"""Events the ticketing service publishes and the handlers of those it consumes."""
