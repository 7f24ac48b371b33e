"""GET /api/v2/events/: the events the caller may read (SPEC §4), by sync token then id;
POST creates one (drf_project.planning.create).

A user's permission on an event: their direct event subscription overrules; otherwise the best
permission among their live subscriptions (permission > 0) to non-deleted calendars holding
the event. Readable: permission > 0 and the event not deleted.
"""

from django.db.models import F, FilteredRelation, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from drf_project.planning.create import EventCreateSerializer, create_event
from drf_project.planning.models import (
    CalendarSubscription,
    Event,
    EventCalendar,
    EventSubscription,
)
from drf_project.planning.serializers import EventSerializer
from rest_framework.generics import ListCreateAPIView
from rest_framework.request import Request
from rest_framework.response import Response


def visible_memberships(user_id: str) -> QuerySet[EventCalendar]:
    """Event-calendar memberships of the calendars the user sees (live subscription, calendar
    not deleted)."""
    return EventCalendar.objects.filter(
        calendar__subscriptions__user_id=user_id,
        calendar__subscriptions__permission__gt=0,
        calendar__deleted_at__isnull=True,
    )


def readable_events(user_id: str) -> QuerySet[Event]:
    best_calendar_permission = (
        CalendarSubscription.objects.filter(
            user_id=user_id,
            permission__gt=0,
            calendar__deleted_at__isnull=True,
            calendar__memberships__event=OuterRef("pk"),
        )
        .order_by("-permission")
        .values("permission")[:1]
    )
    return (
        Event.objects.annotate(
            mine=FilteredRelation("subscriptions", condition=Q(subscriptions__user_id=user_id))
        )
        .filter(  # the events the user relates to: directly, or through a calendar
            Q(pk__in=EventSubscription.objects.filter(user_id=user_id).values("event_id"))
            | Q(pk__in=visible_memberships(user_id).values("event_id")),
            deleted_at__isnull=True,
        )
        .annotate(
            permission=Coalesce(F("mine__permission"), Subquery(best_calendar_permission)),
            previous_permission=F("mine__previous_permission"),
            rsvp_status=F("mine__rsvp_status"),
            is_invitation=F("mine__is_invitation"),
        )
        .filter(permission__gt=0)
        .order_by("sync_token", "id")
    )


class EventList(ListCreateAPIView):
    serializer_class = EventSerializer

    def get_queryset(self) -> QuerySet[Event]:
        user_id = self.request.user.username  # the C42 user id (drf_project.seed)
        return readable_events(user_id).prefetch_related(
            Prefetch(
                "memberships",
                queryset=visible_memberships(user_id).only("event_id", "calendar_id"),
                to_attr="visible_memberships",
            )
        )

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        """POST: the new event, as the list shows it to its creator (201)."""
        incoming = EventCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        event_id = create_event(request.user.username, dict(incoming.validated_data))
        event = self.get_queryset().get(pk=event_id)
        return Response(EventSerializer(event).data, status=201)
