"""/health (plain Django, no authentication) and the events list at /api/v2/events/."""

from django.http import JsonResponse
from django.urls import path
from drf_project.planning.views import EventList


def health(_request: object) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("health", health),
    path("api/v2/events/", EventList.as_view()),
]
