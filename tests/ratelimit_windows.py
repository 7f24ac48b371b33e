"""Rate limits count per fixed window (c42.ratelimit: `now // window`): a test that makes N
attempts and expects the next to be refused must not let them straddle two windows."""

from __future__ import annotations

import time


def wait_for_fresh_window(window_seconds: int, margin_seconds: float) -> None:
    """Sleep into the next window when less than `margin_seconds` of this one are left."""
    left = window_seconds - time.time() % window_seconds
    if left < margin_seconds:
        time.sleep(left + 0.5)
