"""The bounds every fuzz test runs within: reproducible (derandomized: the same cases on every
run), no example database written into the tree, no per-example deadline (a shared 2-core
machine is noisy), and health checks off (the live server is slow by Hypothesis' standards)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    print_blob=False,
)

# `make test` runs each test's own small, fixed set of cases. A deeper, random search by hand:
# C42_FUZZ_SCALE=20 .venv/bin/pytest tests/fuzz (each failure names its minimal request).
_SCALE = int(os.environ.get("C42_FUZZ_SCALE", "1"))


def budget(examples: int) -> settings:
    """FUZZ_SETTINGS with `examples` cases; scaled up, and then random, by C42_FUZZ_SCALE."""
    return settings(FUZZ_SETTINGS, max_examples=examples * _SCALE, derandomize=_SCALE == 1)


# Every fuzz test module's marks. The live server runs in a thread of this process and uses
# `random` (e-mail Message-IDs, for one) while Hypothesis draws a case; Hypothesis takes that
# for a strategy using `random`. It is not one of ours.
FUZZ_MARKS = [
    pytest.mark.fuzz,
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]
