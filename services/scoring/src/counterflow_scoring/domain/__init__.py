"""Domain of the scoring service: models and rules, in the bank's words."""
