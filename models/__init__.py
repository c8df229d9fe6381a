"""The shared SQL model and its rules. Imports none of bot/, handlers/ or scheduler/.

Every table module is imported here so that ``Base.metadata`` is complete for Alembic and
for tests, whichever model a caller imports first.
"""

from models.accounts.tables import Account
from models.audit import AuditEntry
from models.base import Base
from models.broadcasts.records import Broadcast, BroadcastRecipient
from models.events.tables import Attendance, Event, EventTag, Signup
from models.exports.jobs import ExportJob
from models.impact.publication import Switch
from models.inbound import InboundMessage
from models.inbox.tables import Conversation, ConversationMessage
from models.leadership import SchedulerFence
from models.needs.tables import Need, NeedHistory, NeedPhoto, ResponseTemplate, SavedView
from models.partners import Partner
from models.push.consents import SubscriptionConsent
from models.push.outbox import OutboxMessage
from models.reminders import Reminder
from models.residents import Resident
from models.tags.tables import Tag
from models.villages.tables import Village

__all__ = [
    "Account",
    "Attendance",
    "AuditEntry",
    "Base",
    "Broadcast",
    "BroadcastRecipient",
    "Conversation",
    "ConversationMessage",
    "Event",
    "EventTag",
    "ExportJob",
    "InboundMessage",
    "Need",
    "NeedHistory",
    "NeedPhoto",
    "OutboxMessage",
    "Partner",
    "Reminder",
    "Resident",
    "ResponseTemplate",
    "SavedView",
    "SchedulerFence",
    "Signup",
    "SubscriptionConsent",
    "Switch",
    "Tag",
    "Village",
]
