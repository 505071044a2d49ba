"""Events the selfservice service publishes and the handlers of those it consumes."""
