"""The input rules shared by the API, the pages and the CLI, each defined once (SPEC §8).

A rule is a bound or a check function that returns the value to store (trimmed, normalised)
or raises `InvalidRequest` naming the field at fault. The API's request schemas take their
bounds from here (`resources/validation.py`), the pages ask `password_problem` & co. for the
sentence to show beside a field, and the CLI and `c42.accounts` call the `check_*` functions,
so that no face accepts what another refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from c42.emails import InvalidEmail, normalise_email
from c42.errors import InvalidRequest
from c42.text import is_accepted

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1000
MAX_PERSON_NAME_LENGTH = 150  # first and last names
MAX_NAME_LENGTH = 200  # services, apps, tokens
MAX_EMAIL_LENGTH = 320


@dataclass(frozen=True)
class Bounds:
    """An inclusive integer range."""

    low: int
    high: int

    def problem(self, value: int, unit: str = "") -> str | None:
        if self.low <= value <= self.high:
            return None
        return f"must be between {self.low} and {self.high}{unit}"


DAY = 24 * 3600
USER_TOKEN_EXPIRES_IN = Bounds(60, 10 * 365 * DAY)  # seconds: a minute to ten years
ACTION_TOKEN_EXPIRES_IN = Bounds(60, 365 * DAY)  # seconds: a minute to one year
ACTION_TOKEN_MAX_USES = Bounds(1, 1_000_000)
ACTION_TOKEN_MAX_GRANTS = 20


def _invalid(field: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{field} {problem}.", fields={field: problem})


def password_problem(password: str | None) -> str | None:
    """Why a new password is refused, or None."""
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if not is_accepted(password):
        return "Use no control characters."
    return None


def check_password(password: str, field: str = "password") -> str:
    problem = password_problem(password)
    if problem is not None:
        raise InvalidRequest(f"{field}: {problem}", fields={field: problem})
    return password


def check_email(email: str, field: str = "email") -> str:
    """The address in its one normal form (`c42.emails`)."""
    try:
        return normalise_email(email)
    except InvalidEmail:
        raise _invalid(field, "must be an e-mail address such as name@example.com") from None


def name_problem(
    value: str | None, max_length: int = MAX_NAME_LENGTH, *, required: bool = True
) -> str | None:
    """Why a name (service, app, token, person) is refused, or None; `value` is trimmed."""
    if value is None or not is_accepted(value):
        return "must be text without control characters"
    if required and not value.strip():
        return "must not be empty"
    if len(value.strip()) > max_length:
        return f"must be at most {max_length} characters"
    return None


def check_name(
    value: str, field: str = "name", max_length: int = MAX_NAME_LENGTH, *, required: bool = True
) -> str:
    problem = name_problem(value, max_length, required=required)
    if problem is not None:
        raise _invalid(field, problem)
    return value.strip()


def check_bounds(value: int | None, bounds: Bounds, field: str, unit: str = "") -> int | None:
    """None passes (the default applies); a number must lie within `bounds`."""
    if value is None:
        return None
    problem = bounds.problem(value, unit)
    if problem is not None:
        raise _invalid(field, problem)
    return value
