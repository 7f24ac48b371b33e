"""Fixtures of the red-team tests: those of the OAuth tests (a service, its user, apps)."""

from tests.oauth.conftest import (  # noqa: F401
    anonymous,
    browser,
    fresh_browser,
    native_app,
    person,
    service_id,
    web_app,
)
