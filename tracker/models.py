"""Import every feature's models so the metadata (and Alembic) sees all tables."""
from tracker.auth.models import ApiKey
from tracker.links.models import Campaign, CampaignCost, Link, LinkDestinationChange
from tracker.redirects.models import Click, LinkDailyStat, LinkVisitor, OrphanVisit

__all__ = ["ApiKey", "Campaign", "CampaignCost", "Click", "Link", "LinkDailyStat",
           "LinkDestinationChange", "LinkVisitor", "OrphanVisit"]
