"""Import every feature's models so the metadata (and Alembic) sees all tables."""
from tracker.assets.models import Asset
from tracker.auth.models import ApiKey, PageSession
from tracker.conversions.models import Conversion
from tracker.domains.models import Domain
from tracker.links.models import Campaign, CampaignCost, Link, LinkDestinationChange
from tracker.mentions.models import Mention
from tracker.people.models import Identity
from tracker.privacy.models import ErasedId, RetentionMark
from tracker.redirects.models import Click, LinkCountryStat, LinkDailyStat, LinkRuleStat, LinkVisitor, OrphanVisit
from tracker.reports.models import ClickKey, OfflineKey, VisitKey
from tracker.selfreports.models import AnswerRule, SelfReport
from tracker.touchpoints.models import LandingVisit, OfflineTouch
from tracker.webhooks.models import Webhook, WebhookDelivery

__all__ = ["AnswerRule", "ApiKey", "Asset", "Campaign", "CampaignCost", "Click", "ClickKey", "Conversion", "Domain",
           "ErasedId", "Identity", "LandingVisit", "Link", "LinkCountryStat", "LinkDailyStat", "LinkDestinationChange",
           "LinkRuleStat", "LinkVisitor", "Mention", "OfflineKey", "OfflineTouch", "OrphanVisit", "PageSession",
           "RetentionMark", "SelfReport", "VisitKey", "Webhook", "WebhookDelivery"]
