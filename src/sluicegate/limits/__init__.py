"""Rate limits (RPM, TPM over a sliding 60 s window) and budgets, in memory or in Redis."""
