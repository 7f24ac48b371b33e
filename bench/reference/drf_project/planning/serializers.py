"""An event in (about) C42's wire shape (c42/resources/events/serialize.py): the event's
columns, the caller's permission and direct subscription, and the caller's calendar ids."""

from drf_project.planning.models import Event
from rest_framework import serializers

PERMISSIONS = {
    0: "removed",
    1: "invited_read",
    2: "subscribed_read",
    3: "invited_write",
    4: "subscribed_write",
}


class PermissionField(serializers.Field):
    def to_representation(self, value: int | None) -> str | None:
        return None if value is None else PERMISSIONS[value]


class EventSerializer(serializers.ModelSerializer):
    related_event = serializers.CharField(source="related_event_id", allow_null=True)
    creator = serializers.CharField(source="creator_id")
    # Annotations of the view's queryset (the caller's relation to the event):
    permission = PermissionField(read_only=True)
    previous_permission = PermissionField(read_only=True)
    rsvp_status = serializers.CharField(read_only=True, allow_null=True)
    is_invitation = serializers.BooleanField(read_only=True, allow_null=True)
    calendar_ids = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id",
            "event_type",
            "title",
            "description",
            "start",
            "end",
            "start_timezone",
            "end_timezone",
            "all_day",
            "due",
            "color",
            "icon",
            "logo",
            "source_url",
            "is_suggestion",
            "start_location",
            "end_location",
            "related_event",
            "time_buffer",
            "service_id",
            "created",
            "modified",
            "creator",
            "sync_token",
            "permission",
            "previous_permission",
            "rsvp_status",
            "is_invitation",
            "calendar_ids",
        ]
        read_only_fields = fields

    def get_calendar_ids(self, event: Event) -> list[str]:
        return sorted(m.calendar_id for m in event.visible_memberships)
