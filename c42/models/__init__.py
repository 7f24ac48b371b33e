"""All tables, one file per family. Importing this package registers them on `Base.metadata`."""

from c42.models.base import Base, new_id, utcnow
from c42.models.credentials import ActionToken, AuditEvent, UserToken
from c42.models.oauth import (
    OAuthApp,
    OAuthAuthorizationCode,
    OAuthConsent,
    OAuthDeviceCode,
    OAuthPushedRequest,
    OAuthToken,
)
from c42.models.oidc import OIDCGrant, OIDCSigningKey
from c42.models.planning import (
    Calendar,
    CalendarSubscription,
    Event,
    EventCalendar,
    EventSubscription,
    ReadableEvent,
    SyncCounter,
)
from c42.models.sessions import BrowserSession
from c42.models.users import Service, ServiceSubscription, User

__all__ = [
    "ActionToken",
    "AuditEvent",
    "Base",
    "BrowserSession",
    "Calendar",
    "CalendarSubscription",
    "Event",
    "EventCalendar",
    "EventSubscription",
    "OAuthApp",
    "OAuthAuthorizationCode",
    "OAuthConsent",
    "OAuthDeviceCode",
    "OAuthPushedRequest",
    "OAuthToken",
    "OIDCGrant",
    "OIDCSigningKey",
    "ReadableEvent",
    "Service",
    "ServiceSubscription",
    "SyncCounter",
    "User",
    "UserToken",
    "new_id",
    "utcnow",
]
