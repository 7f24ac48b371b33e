"""DOT's own URLs, token endpoint included, at /o/ (its documented mount point)."""

from django.urls import include, path

urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
