"""People: identity stitching (click ids, visitor ids, site visitor ids, customer keys) and journeys."""
