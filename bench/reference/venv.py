"""The reference stacks' virtualenv: var/reference/venv with requirements-dot.lock installed
(Django, django-oauth-toolkit, Django REST framework, gunicorn), shared by bench.reference.dot
and bench.reference.drf. Never C42's own .venv: nothing of C42 imports these packages.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VAR = ROOT / "var" / "reference"
VENV = VAR / "venv"
LOCK = HERE / "requirements-dot.lock"
STAMP = VENV / ".installed-dot"  # the lock file's digest once installed


def ensure_venv() -> Path:
    """var/reference/venv with the lock file installed; skipped when the stamp matches (a
    changed lock file reinstalls). Returns the venv's python."""
    python = VENV / "bin" / "python"
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return python
    print(f"  installing {LOCK.name} into {VENV}", flush=True)
    if not python.exists():
        # This interpreter's Python (venv resolves its base), so Django runs on C42's version.
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(LOCK)], check=True)
    STAMP.write_text(digest + "\n")
    return python


def locked_versions() -> dict[str, str]:
    """{lower-case package name: pinned version} of the lock file."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith("#"):
            pins[name.lower()] = version
    return pins
