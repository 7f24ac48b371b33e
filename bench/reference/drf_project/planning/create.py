"""POST /api/v2/events/ as a DRF project would write it (the event-create reference of issue
12): a serializer validates the body (C42's field rules for the types it accepts), one atomic
transaction takes the next sync token from C42's counter row, checks write permission on each
calendar, and inserts the event, the creator's subscribed_write subscription and the
calendar memberships; the answer is the event as the list shows it."""

import uuid

from django.db import connection, transaction
from django.utils import timezone
from drf_project.planning.models import (
    CalendarSubscription,
    Event,
    EventCalendar,
    EventSubscription,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound

SUBSCRIBED_WRITE = 4
WRITE = 3  # invited_write and above
TYPES = ["normal", "todo", "time_block", "arrive_by", "depart_from", "route"]


class EventCreateSerializer(serializers.Serializer):
    event_type = serializers.ChoiceField(TYPES)
    title = serializers.CharField(max_length=500, allow_blank=True, default="")
    description = serializers.CharField(allow_blank=True, default="")
    start = serializers.DateTimeField(required=False, allow_null=True)
    end = serializers.DateTimeField(required=False, allow_null=True)
    start_timezone = serializers.CharField(max_length=64, required=False, allow_null=True)
    end_timezone = serializers.CharField(max_length=64, required=False, allow_null=True)
    all_day = serializers.BooleanField(default=False)
    due = serializers.DateTimeField(required=False, allow_null=True)
    calendar_ids = serializers.ListField(child=serializers.CharField(max_length=32), default=list)

    def validate(self, data: dict) -> dict:
        if data["event_type"] in ("normal", "time_block"):
            needed = ("start", "end", "start_timezone", "end_timezone")
            missing = [name for name in needed if data.get(name) is None]
            if missing:
                raise serializers.ValidationError({name: "required" for name in missing})
            if data["start"] > data["end"]:
                raise serializers.ValidationError({"end": "before start"})
        return data


def create_event(user_id: str, data: dict) -> str:
    calendar_ids = list(dict.fromkeys(data.pop("calendar_ids")))
    with transaction.atomic():
        writable = set(
            CalendarSubscription.objects.filter(
                user_id=user_id,
                calendar_id__in=calendar_ids,
                permission__gte=WRITE,
                calendar__deleted_at__isnull=True,
            ).values_list("calendar_id", flat=True)
        )
        if writable != set(calendar_ids):
            raise NotFound("calendar not found")
        with connection.cursor() as cursor:
            cursor.execute("UPDATE sync_counter SET value = value + 1 WHERE id = 1 RETURNING value")
            (token,) = cursor.fetchone()
        now = timezone.now()
        event = Event.objects.create(
            id=uuid.uuid4().hex,
            color="",
            icon="",
            logo="",
            source_url="",
            is_suggestion=False,
            time_buffer=0,
            creator_id=user_id,
            created=now,
            modified=now,
            sync_token=token,
            **data,
        )
        EventSubscription.objects.create(
            id=uuid.uuid4().hex,
            event=event,
            user_id=user_id,
            permission=SUBSCRIBED_WRITE,
            rsvp_status="attending",
            is_invitation=False,
            actor_id=user_id,
            message="",
            created=now,
            modified=now,
            sync_token=token,
        )
        EventCalendar.objects.bulk_create(
            EventCalendar(event=event, calendar_id=calendar_id) for calendar_id in calendar_ids
        )
    return event.id
