"""Events the scoring service publishes and the handlers of those it consumes."""
