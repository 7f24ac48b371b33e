"""Helpers for the tests of running in production: reading /metrics with prometheus_client's
own parser, and servers of the app set up for one test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer

Labels = frozenset[tuple[str, str]]


class Scrape:
    """One /metrics answer, parsed: every sample by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[tuple[str, Labels], float] = {}
        self.types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the series does not exist (yet)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every series of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def label_values(self, label: str) -> set[str]:
        return {value for (_, ls) in self.samples for name, value in ls if name == label}


def scrape(client: httpx.Client, **headers: str) -> Scrape:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(response.text)


@contextmanager
def served(settings: Settings, db: Database, **config: object) -> Iterator[LiveServer]:
    """The app on `settings` under uvicorn with extra uvicorn options (e.g. proxy headers)."""
    live = LiveServer(settings, db)
    if config:
        options = uvicorn.Config(
            live.app,
            host="127.0.0.1",
            port=live.port,
            log_level="warning",
            loop="asyncio",
            **config,  # type: ignore[arg-type]
        )
        live.server = uvicorn.Server(options)
        live.thread = threading.Thread(target=live.server.run, daemon=True)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait until `check()` is true (a value written after the response has gone out)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.02)
