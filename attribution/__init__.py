"""Pure attribution analytics (pandas/numpy only; no Flask, no SQLAlchemy).

After the core issue this holds the channel mapping; the models come with the attribution issue.
"""
from attribution.channels import assign_channels, channel_of

__all__ = ["assign_channels", "channel_of"]
