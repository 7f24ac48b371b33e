"""Queries of the events resource. Visibility comes from `c42.access.events`.

The list and get queries are the hot path: they are built once per filter shape with bind
parameters and run as compiled SQL on the DB-API connection (see `c42.compiled`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, and_, bindparam, exists, func, or_, select, true

from c42 import sync
from c42.access import events as rules
from c42.access.permissions import reads
from c42.access.readable import readable_events as readable
from c42.auth.subject import AuthSubject
from c42.compiled import Program, Step
from c42.sqlfunctions import wire_time

events = rules.events
subs = rules.event_subscriptions
ec = rules.event_calendars
cs = rules.calendar_subscriptions
cals = rules.calendars

_TIMES = frozenset({"start", "end", "due", "created", "modified"})
# Timestamps leave the database already in the wire format (see c42.sqlfunctions).
EVENT_COLUMNS = [wire_time(c).label(c.name) if c.name in _TIMES else c for c in events.c]


@dataclass(frozen=True, slots=True)
class EventFilters:
    ids: list[str] | None = None
    service_ids: list[str] | None = None
    calendar_ids: list[str] | None = None
    calendar_ids_or: list[str] | None = None
    event_types: list[str] | None = None
    sync_token: int | None = None
    order_by: str = "sync_token"
    order_asc: bool = True


def _n(values: list[str] | None) -> int:
    return -1 if values is None else len(values)


class Shape(NamedTuple):
    """What decides a query's SQL (not its values): one compiled statement per shape."""

    scoped: bool  # a service-scoped credential: only that service's events
    n_ids: int  # how many values of each list filter (-1: filter absent)
    n_svc: int
    n_cal: int
    n_calor: int
    n_type: int
    syncing: bool
    order_by: str
    order_asc: bool


def _shape(subject: AuthSubject, f: EventFilters) -> Shape:
    return Shape(
        scoped=subject.service_id is not None,
        n_ids=_n(f.ids),
        n_svc=_n(f.service_ids),
        n_cal=_n(f.calendar_ids),
        n_calor=_n(f.calendar_ids_or),
        n_type=_n(f.event_types),
        syncing=f.sync_token is not None,
        order_by=f.order_by,
        order_asc=f.order_asc,
    )


def _binds(prefix: str, count: int) -> list[Any]:
    return [bindparam(f"{prefix}_{i}") for i in range(count)]


def _params(subject: AuthSubject, f: EventFilters) -> dict[str, Any]:
    params: dict[str, Any] = {"user_id": subject.user_id, "scope_service": subject.service_id}
    for prefix, values in (
        ("ids", f.ids),
        ("svc", f.service_ids),
        ("cal", f.calendar_ids),
        ("calor", f.calendar_ids_or),
        ("type", f.event_types),
    ):
        for i, value in enumerate(values or ()):
            params[f"{prefix}_{i}"] = value
    if f.sync_token is not None:
        params["sync_token"] = f.sync_token
    return params


def _calendar_relation_changed(user: Any, since: Any) -> Any:
    """The caller's subscription to one of the event's calendars changed (shared, accepted,
    left, removed) or such a calendar was deleted: the caller's permission on the event may
    have changed although the event did not."""
    return exists().where(
        ec.c.event_id == events.c.id,
        cs.c.calendar_id == ec.c.calendar_id,
        cs.c.user_id == user,
        cals.c.id == ec.c.calendar_id,
        or_(
            cs.c.sync_token > since,
            and_(cals.c.deleted_at.is_not(None), cals.c.sync_token > since),
        ),
    )


def _in_visible_calendar(user: Any, which: Any, event_id: Any) -> Any:
    """The event is in one of `which` calendars *that the caller can see*: like the
    requester-relative `calendar_ids`, a filter must not reveal that an event is also in
    someone's private calendar whose id the caller happens to know."""
    return exists().where(
        ec.c.event_id == event_id,
        which,
        cs.c.calendar_id == ec.c.calendar_id,
        cs.c.user_id == user,
        reads(cs.c.permission),
        cals.c.id == ec.c.calendar_id,
        cals.c.deleted_at.is_(None),
    )


@dataclass(frozen=True, slots=True)
class _Source:
    """What the page and count statements select from, and its columns."""

    statement: Any  # a SELECT with its FROM and WHERE, columns still to add
    event_id: Any
    permission: Any
    sort: Any  # the column of the shape's order
    calendar_ids: Any  # kept visible calendars of the event, or None: computed per page row


def _source(shape: Shape) -> _Source:
    """The visible (or, when syncing, changed) events of the shape.

    A list reads the caller's rows of `readable_events` (the read rule kept as rows, see
    `c42.access.readable`): one index range, sort keys included. A sync evaluates the rule
    itself, which also reports the events the caller lost access to (SPEC §4)."""
    user: BindParameter[str] = bindparam("user_id")
    ids = _binds("ids", shape.n_ids) if shape.n_ids >= 0 else None
    if shape.syncing:
        access = rules.permission_subquery(user, ids, lost=True)
        # Changed after the token: the event itself or the caller's relation to it. Deleted
        # events and relations turned `removed` stay listed, shown as id + permission.
        since: BindParameter[int] = bindparam("sync_token")
        changed = (events.c.sync_token > since, subs.c.sync_token > since)
        statement = (
            select()
            .select_from(access)
            .join(events, events.c.id == access.c.event_id)
            # the caller's own subscription counts as a change of the event
            .outerjoin(subs, and_(subs.c.event_id == events.c.id, subs.c.user_id == user))
            .where(or_(*changed, _calendar_relation_changed(user, since)))
        )
        source = _Source(
            statement, events.c.id, access.c.permission, events.c[shape.order_by], None
        )
        service_id = events.c.service_id
    else:
        statement = select().select_from(readable).where(readable.c.user_id == user)
        if shape.n_type >= 0:
            statement = statement.join(events, events.c.id == readable.c.event_id)
        source = _Source(
            statement,
            readable.c.event_id,
            readable.c.permission,
            readable.c[shape.order_by],
            readable.c.calendar_ids,  # kept with the row (`c42.access.readable`)
        )
        service_id = readable.c.service_id
    conditions: list[Any] = []
    if shape.scoped:
        conditions.append(service_id == bindparam("scope_service"))
    if ids is not None:
        conditions.append(source.event_id.in_(ids))
    if shape.n_svc >= 0:
        conditions.append(service_id.in_(_binds("svc", shape.n_svc)))
    if shape.n_type >= 0:
        conditions.append(events.c.event_type.in_(_binds("type", shape.n_type)))
    for calendar in _binds("cal", max(shape.n_cal, 0)):
        conditions.append(_in_visible_calendar(user, ec.c.calendar_id == calendar, source.event_id))
    if shape.n_calor >= 0:
        which = ec.c.calendar_id.in_(_binds("calor", shape.n_calor))
        conditions.append(_in_visible_calendar(user, which, source.event_id))
    return replace(source, statement=source.statement.where(*conditions))


def _count_statement(shape: Shape) -> Any:
    """The count alone (a `limit=0` list, or an empty page), with the current sync token:
    one statement, so one snapshot, on both databases."""
    return _source(shape).statement.add_columns(
        func.count().label("total"), _current_sync_token().label("current_sync_token")
    )


def _page_statement(shape: Shape) -> Any:
    """Two steps: choose the page's event ids (narrow rows: id, permission, sort key, the
    total), then fetch the wide rows of just those events. Formatting and reading every
    column of every visible event only to keep ten cost 4x more."""
    order_asc = shape.order_asc
    source = _source(shape)
    # A list counts with its own index range; a sync counts the rows it has computed anyway.
    count = _source(shape).statement.add_columns(func.count())
    total = func.count().over() if shape.syncing else count.scalar_subquery()
    key = source.sort
    # Nulls last on both databases (SQLite would put them first, PostgreSQL last); sync
    # tokens are never null, and without the clause an index gives their order.
    nullable = shape.order_by != "sync_token"
    order = key.asc() if order_asc else key.desc()
    tie = source.event_id.asc() if order_asc else source.event_id.desc()
    page = (
        source.statement.add_columns(
            source.event_id.label("event_id"),
            source.permission.label("permission"),
            key.label("sort_key"),
            total.label("total"),
            *([] if source.calendar_ids is None else [source.calendar_ids.label("calendar_ids")]),
        )
        .order_by(order.nulls_last() if nullable else order, tie)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    sort_key = page.c.sort_key.asc() if order_asc else page.c.sort_key.desc()
    page_tie = page.c.event_id.asc() if order_asc else page.c.event_id.desc()
    # The sync token as a one-row table that the page hangs from: an empty page is still one
    # row (event columns null) carrying the token of the same snapshot (see `list_page`).
    token = select(_current_sync_token().label("current_sync_token")).subquery("token")
    return (
        select(
            *EVENT_COLUMNS,
            page.c.permission,
            subs.c.previous_permission,
            subs.c.rsvp_status,
            subs.c.is_invitation,
            _calendar_ids(page, source),
            page.c.total,
            token.c.current_sync_token,
        )
        .select_from(token)
        .outerjoin(page, true())
        .outerjoin(events, events.c.id == page.c.event_id)
        .outerjoin(
            subs, and_(subs.c.event_id == events.c.id, subs.c.user_id == bindparam("user_id"))
        )
        .order_by(sort_key.nulls_last() if nullable else sort_key, page_tie)
    )


def _calendar_ids(page: Any, source: _Source) -> Any:
    """The requester-relative `calendar_ids` of each listed event: a list takes them from
    its `readable_events` rows; a sync, whose rows come from the rule itself (events lost
    included), computes them for the page's rows only."""
    if source.calendar_ids is not None:
        return page.c.calendar_ids
    user: BindParameter[str] = bindparam("user_id")
    return rules.visible_calendar_ids(user, events.c.id).label("calendar_ids")


def split_ids(joined: str | None) -> list[str]:
    return sorted(joined.split(",")) if joined else []


def _current_sync_token() -> Any:
    """The current sync token (`c42.sync`'s watermark) as a column, so that a page, its count
    and the token come from one statement (one snapshot, one round trip)."""
    return sync.watermark()


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]  # column name -> value (see `_page_statement`)
    total: int
    sync_token: int


def list_page(subject: AuthSubject, f: EventFilters, limit: int, offset: int) -> Program[Page]:
    """A page of the caller's events with the total and the current sync token: one
    statement (two when the offset is past the end: the count then comes on its own). A program
    (`c42.compiled.run` / `run_async`): blocking or awaited, the same statements."""
    if any(v == [] for v in (f.ids, f.service_ids, f.calendar_ids_or, f.event_types)):
        # `ids=[]`: IN () matches nothing; only the sync token is read.
        [(current,)] = (yield Step("events.sync_token", _sync_token_statement, {})).rows
        return Page([], 0, current)
    shape = _shape(subject, f)
    params = _params(subject, f)
    if limit:
        # One statement, so one snapshot, even in autocommit (PostgreSQL's hot reads): the
        # page, its total and the token. An empty page is one row of nulls with the token.
        build = partial(_page_statement, shape)
        paged = {**params, "limit": limit, "offset": offset}
        rows = (yield Step(("events.page", shape), build, paged, decode=False)).mappings()
        if rows[0]["id"] is not None:
            return Page(rows, rows[0]["total"], rows[0]["current_sync_token"])
        if not offset:
            return Page([], 0, rows[0]["current_sync_token"])
        # Past the end: the total on its own. The token stays the page's (a newer count
        # beside an older token never makes a syncing client skip a change).
        build = partial(_count_statement, shape)
        [(total, _)] = (yield Step(("events.count", shape), build, params, decode=False)).rows
        return Page([], int(total), rows[0]["current_sync_token"])
    build = partial(_count_statement, shape)
    [(total, current)] = (yield Step(("events.count", shape), build, params, decode=False)).rows
    return Page([], int(total), current)


def _sync_token_statement() -> Any:
    return select(_current_sync_token().label("current_sync_token"))


def get_one(subject: AuthSubject, event_id: str) -> Program[tuple[dict[str, Any] | None, int]]:
    """The event as the caller sees it (None when not visible) and the current sync token."""
    page = yield from list_page(subject, EventFilters(ids=[event_id]), 1, 0)
    return (page.rows[0] if page.rows else None), page.sync_token
