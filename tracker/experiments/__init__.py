"""Experiments: A/B tests of link variants (the report, its API, command and page)."""
