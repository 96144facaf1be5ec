"""Cohorts and lifetime value: customers by first-purchase month and acquisition channel (ATTRIBUTION.md)."""
