"""Webhooks: events pushed to other systems, signed as Standard Webhooks, queued durably and retried."""
