"""Domain of the mobile-gateway service: models and rules, in the bank's words."""
