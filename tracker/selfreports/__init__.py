"""Self-reported sources ("How did you hear about us?"): the /ask page, the API, free-text rules."""
