"""The SPEC 4 fault set on every front door by every backend type (one suite, `test_faults.py`)."""
