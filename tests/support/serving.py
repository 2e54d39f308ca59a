"""Serve a command on a free port, wait until it answers, stop it afterwards.

Used by the end-to-end tests, the Docker smoke run and the benchmarks, so all of them run the app
as `make serve` serves it (`python -m app`, the same panel serve command line).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def app_command(extra: list[str] | None = None) -> list[str]:
    """The app's serve command (`make serve` runs the same); PORT comes from the environment."""
    return [sys.executable, "-m", "app", *(extra or [])]


def script_command(scripts: list[Path], port: int, extra: list[str] | None = None) -> list[str]:
    """Page scripts served by a plain panel serve, as the guide would serve them."""
    return [
        sys.executable, "-m", "panel", "serve", *map(str, scripts), "--port", str(port),
        "--allow-websocket-origin", f"localhost:{port}", "--liveness", *(extra or []),
    ]  # fmt: skip


@dataclass
class Served:
    """A running server: where it answers, its process, and its log."""

    url: str
    process: subprocess.Popen
    log_path: Path
    _offset: int = field(default=0)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def new_log(self) -> str:
        """What the server logged since the last call."""
        new = self.unread_log()
        self._offset += len(new)
        return new

    def unread_log(self) -> str:
        """What the server logged since the last `new_log()`, leaving it unread."""
        return self.log()[self._offset :]


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether GET url answers 200 now."""
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status == 200
    return False


def wait_until_live(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        if answers(url):
            return
        # Pause before asking again, and notice at once if the server exits.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start(
    command: list[str], port: int, log_path: Path, env: dict[str, str] | None = None,
    ready_path: str = "/liveness", cwd: Path | None = None,
) -> Served:
    """Start `command` (serving on `port`, from `cwd`, the project by default) in a process
    group of its own; return once `ready_path` answers."""
    full_env = {**os.environ, **(env or {}), "PORT": str(port)}
    full_env.setdefault("ADDRESS", "localhost")
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command, cwd=cwd or ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    served = Served(url=f"http://localhost:{port}", process=process, log_path=log_path)
    try:
        wait_until_live(served.url + ready_path, process)
    except BaseException:
        stop(served)
        raise
    return served


def stop(served: Served, timeout: float = 10.0) -> int:
    """SIGTERM the server's whole process group (with --num-procs, its children too), then
    SIGKILL what is left after `timeout` s. Returns the exit code."""
    process = served.process
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:  # the guide's example never lets its threads stop
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


@contextlib.contextmanager
def served(
    command: list[str], port: int, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Run `command` (serving on `port`) until the block ends; its output goes to `log_path`."""
    server = start(command, port, log_path, env)
    try:
        yield server
    finally:
        stop(server)
