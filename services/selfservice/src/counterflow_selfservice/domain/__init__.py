"""Domain of the selfservice service: models and rules, in the bank's words."""
