"""The text the API accepts (c42.text, SPEC §6): any Unicode but control characters and lone
surrogates; free text in JSON bodies keeps TAB, LF and CR. What is accepted reads back as sent,
on SQLite and PostgreSQL alike."""

from __future__ import annotations

import httpx

from tests.factories import Factory, calendar, create


def test_free_text_keeps_tabs_and_line_breaks(client: httpx.Client, factory: Factory) -> None:
    person = factory.user()
    description = 'line one\nline two\r\n\tindented "quoted" \\ back'
    created = create(
        client,
        person,
        "/api/v2/calendars/",
        {"name": "Zoë 😀 ✓ \u202e", "description": description, "category": "é"},
    )
    read = client.get(f"/api/v2/calendars/{created['id']}/", headers=person.headers)
    assert read.status_code == 200, read.text
    data = read.json()["data"][0]
    assert data["name"] == "Zoë 😀 ✓ \u202e"
    assert data["description"] == description


def test_location_json_keeps_unicode(client: httpx.Client, factory: Factory) -> None:
    person = factory.user()
    cal = calendar(client, person)
    location = {"näme": "Straße\n2", "nested": {"emoji": "😀"}}
    body = {
        "event_type": "todo",
        "title": "x\ty",
        "calendar_ids": [cal["id"]],
        "start_location": location,
    }
    created = create(client, person, "/api/v2/events/", body)
    assert created["start_location"] == location
    assert created["title"] == "x\ty"
