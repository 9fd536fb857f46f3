"""One router module per resource family."""
