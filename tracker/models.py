"""Import every feature's models so the metadata (and Alembic) sees all tables."""
from tracker.auth.models import ApiKey, PageSession
from tracker.conversions.models import Conversion
from tracker.links.models import Campaign, CampaignCost, Link, LinkDestinationChange
from tracker.mentions.models import Mention
from tracker.people.models import Identity
from tracker.privacy.models import ErasedId, RetentionMark
from tracker.redirects.models import Click, LinkDailyStat, LinkVisitor, OrphanVisit
from tracker.selfreports.models import AnswerRule, SelfReport
from tracker.touchpoints.models import LandingVisit, OfflineTouch

__all__ = ["AnswerRule", "ApiKey", "Campaign", "CampaignCost", "Click", "Conversion", "ErasedId", "Identity",
           "LandingVisit", "Link", "LinkDailyStat", "LinkDestinationChange", "LinkVisitor", "Mention", "OfflineTouch",
           "OrphanVisit", "PageSession", "RetentionMark", "SelfReport"]
