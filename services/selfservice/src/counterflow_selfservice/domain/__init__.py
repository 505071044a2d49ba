"""The self-service domain: devices, cash units, device transactions, the cash-out
forecast, availability and expected diverted customers. No SQL and no HTTP here."""
