"""Attribution, dark-funnel and funnel reports: load from the database, compute with ``attribution``."""
