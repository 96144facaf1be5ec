"""Conversions sent server to server: idempotent on (external id, type), tied to a person."""
