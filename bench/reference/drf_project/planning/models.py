"""C42's planning tables (c42/models/planning.py), mapped as they are: `managed = False`, so
Django's `migrate` never creates, changes or drops them. Only the columns the events list
reads and the create view writes. Users are C42's ids (32 hex) in plain columns: the Django
user whose `username` is that id is the one authenticated.
"""

from django.db import models


class Calendar(models.Model):
    id = models.CharField(max_length=32, primary_key=True)
    name = models.CharField(max_length=200)
    deleted_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "calendars"


class CalendarSubscription(models.Model):
    id = models.CharField(max_length=32, primary_key=True)
    calendar = models.ForeignKey(
        Calendar, models.DO_NOTHING, related_name="subscriptions", db_constraint=False
    )
    user_id = models.CharField(max_length=32)
    permission = models.SmallIntegerField()  # 0 removed .. 4 subscribed_write

    class Meta:
        managed = False
        db_table = "calendar_subscriptions"


class Event(models.Model):
    id = models.CharField(max_length=32, primary_key=True)
    event_type = models.CharField(max_length=16)
    title = models.CharField(max_length=500)
    description = models.TextField()
    start = models.DateTimeField(null=True)
    end = models.DateTimeField(null=True)
    start_timezone = models.CharField(max_length=64, null=True)
    end_timezone = models.CharField(max_length=64, null=True)
    all_day = models.BooleanField()
    due = models.DateTimeField(null=True)
    color = models.CharField(max_length=32)
    icon = models.CharField(max_length=2000)
    logo = models.CharField(max_length=2000)
    source_url = models.CharField(max_length=2000)
    is_suggestion = models.BooleanField()
    start_location = models.JSONField(null=True)
    end_location = models.JSONField(null=True)
    related_event_id = models.CharField(max_length=32, null=True)
    time_buffer = models.IntegerField()
    service_id = models.CharField(max_length=32, null=True)
    creator_id = models.CharField(max_length=32)
    created = models.DateTimeField()
    modified = models.DateTimeField()
    sync_token = models.BigIntegerField()
    deleted_at = models.DateTimeField(null=True)
    calendars = models.ManyToManyField(Calendar, through="EventCalendar", related_name="events")

    class Meta:
        managed = False
        db_table = "events"


class EventCalendar(models.Model):
    """Membership of an event in a calendar (C42's primary key: both columns)."""

    pk = models.CompositePrimaryKey("event_id", "calendar_id")
    event = models.ForeignKey(
        Event, models.DO_NOTHING, related_name="memberships", db_constraint=False
    )
    calendar = models.ForeignKey(
        Calendar, models.DO_NOTHING, related_name="memberships", db_constraint=False
    )

    class Meta:
        managed = False
        db_table = "event_calendars"


class EventSubscription(models.Model):
    id = models.CharField(max_length=32, primary_key=True)
    event = models.ForeignKey(
        Event, models.DO_NOTHING, related_name="subscriptions", db_constraint=False
    )
    user_id = models.CharField(max_length=32)
    permission = models.SmallIntegerField()
    previous_permission = models.SmallIntegerField(null=True)
    rsvp_status = models.CharField(max_length=16)
    is_invitation = models.BooleanField()
    # Written by the create view only:
    actor_id = models.CharField(max_length=32, null=True)
    message = models.TextField(default="")
    created = models.DateTimeField()
    modified = models.DateTimeField()
    sync_token = models.BigIntegerField()
    deleted_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "event_subscriptions"
