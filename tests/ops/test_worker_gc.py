"""A `c42 serve` worker's app (`c42.worker`): after start-up the objects that live as long as
the process are in the collector's permanent generation, so full collections under load walk
only what serving allocated (bench/RESULTS.md, "Sixth session": 250-300 ms pauses before).
Checked in a process of its own: freezing the test process would keep every test's garbage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.ops.processes import environment

PROGRAM = """
import gc, json
from c42.cli import serve
from c42.worker import YOUNG_THRESHOLD, create_worker_app
app = create_worker_app()
print(json.dumps({
    "factory": serve.WORKER_FACTORY,
    "frozen": gc.get_freeze_count(),
    "young": gc.get_threshold()[0],
    "expected_young": YOUNG_THRESHOLD,
    "routes": len(app.routes),
}))
"""


def test_a_worker_app_freezes_what_start_up_built(tmp_path: Path) -> None:
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'c42.sqlite3'}")
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["factory"] == "c42.worker:create_worker_app"  # what `c42 serve` runs
    assert found["routes"] > 10
    assert found["frozen"] > 10_000  # modules, routes, caches: not walked again
    assert found["young"] == found["expected_young"] > 700
