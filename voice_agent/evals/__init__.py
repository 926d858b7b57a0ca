"""Evaluation suites: BFCL (and, later, ACEBench and the speech variants)."""
