"""Domain of the ticketing service: models and rules, in the bank's words."""
