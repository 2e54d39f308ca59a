"""Start a `panel serve` process on a free port, wait until it is live, stop it afterwards.

Used by the end-to-end tests and the benchmarks, so both measure the app served as
`make serve` serves it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def app_command(extra: list[str] | None = None) -> list[str]:
    """The app's serve command (`make serve` runs the same); PORT comes from the environment."""
    return [sys.executable, "-m", "app", *(extra or [])]


def script_command(script: Path, port: int, extra: list[str] | None = None) -> list[str]:
    """A single page script served by the same panel serve, as the guide would serve it."""
    return [
        sys.executable, "-m", "panel", "serve", str(script), "--port", str(port),
        "--allow-websocket-origin", f"localhost:{port}", "--liveness", *(extra or []),
    ]  # fmt: skip


def browser_executable() -> str | None:
    """A browser named by CHROMIUM_EXECUTABLE, else a system Chromium, else None (Playwright's
    own)."""
    named = os.environ.get("CHROMIUM_EXECUTABLE")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Served:
    url: str
    pid: int
    log_path: Path
    _offset: int = field(default=0)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def new_log(self) -> str:
        """What the server logged since the last call."""
        text = self.log()
        new, self._offset = text[self._offset :], len(text)
        return new


def wait_until_live(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        # Pause before asking again, and notice at once if the server exits.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def served(
    command: list[str], port: int, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Run `command` (serving on `port`) until the block ends; its output goes to `log_path`."""
    full_env = {**os.environ, **(env or {}), "PORT": str(port), "ADDRESS": "localhost"}
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT
        )
    url = f"http://localhost:{port}"
    try:
        wait_until_live(f"{url}/liveness", process)
        yield Served(url=url, pid=process.pid, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # the guide's example never lets its threads stop
            process.kill()
            process.wait()
