"""The peers of figure 9: Panel's async-callbacks seed written the idiomatic way in five other
frameworks, each in its own folder (app.py, requirements.in, requirements.lock made by
`uv pip compile requirements.in --python-version 3.11`), how each is started and when it is
ready, and its virtual environment, made from its lock on first use.

The environments are never committed: each is created under its folder's `.venv/` (git-ignored)
by uv, itself pinned in `uv.txt` and installed into `benchmarks/peers/.uv/` on first use.
Servers are started and stopped by tests/support/serving, as the app is.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support.serving import Served, free_port, start, stop

HERE = Path(__file__).resolve().parent
UV_VENV = HERE / ".uv"
INSTALL_SECONDS = 900


@dataclass(frozen=True)
class Peer:
    name: str
    version: str  # the framework's pinned version (requirements.in)
    start: Callable[[Path, int], list[str]]  # (venv bin folder, port) -> argv, run in its folder
    ready_path: str  # answers 200 once the server can serve
    env: dict[str, str] = field(default_factory=dict)
    # A JavaScript expression, truthy once the page's live connection is up (None: none known).
    connected_js: str | None = None
    overlapping: str = ""  # what it does with clicks that come while one runs (REPORT of the spike)

    @property
    def folder(self) -> Path:
        return HERE / self.name

    @property
    def bin(self) -> Path:
        return self.folder / ".venv" / "bin"


PEERS: dict[str, Peer] = {p.name: p for p in [
    Peer(
        "gradio", "6.31.0", lambda b, port: [str(b / "python"), "app.py", "--port", str(port)],
        "/gradio_api/info",
        env={"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
             "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_SSR_MODE": "False"},
        overlapping="one event at a time per listener for every session (queue, "
        "concurrency_limit=1); clicks while one is pending are skipped (trigger_mode once)",
    ),
    Peer(
        "dash", "4.4.1", lambda b, port: [
            str(b / "python"), "-m", "uvicorn", "app:server", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"],
        "/health",
        overlapping="runs clicks concurrently, but the page keeps only the latest click's "
        "result (earlier \"Finished\" dropped); clicks in one task merge into one n_clicks",
    ),
    Peer(
        "streamlit", "1.67.0", lambda b, port: [
            str(b / "streamlit"), "run", "app.py", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        "/_stcore/health",
        env={"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"},
        overlapping="each click reruns the script and interrupts the running rerun: only the "
        "last click's \"Finished\" shows; clicks in one task merge into one rerun",
    ),
    Peer(
        "nicegui", "3.18.0", lambda b, port: [str(b / "python"), "app.py"],  # PORT from the env
        "/", connected_js="window.socket && window.socket.connected",
        overlapping="fully concurrent (async handlers are background tasks); texts that land "
        "in one outbox flush collapse into the latest",
    ),
    Peer(
        "shiny", "1.8.0", lambda b, port: [
            str(b / "shiny"), "run", "app.py", "--host", "127.0.0.1", "--port", str(port)],
        "/", connected_js="window.Shiny && Shiny.shinyapp && Shiny.shinyapp.isConnected()",
        overlapping="the session stays responsive, but its ExtendedTask runs invocations one "
        "at a time (queued); clicks in one task merge into one input value",
    ),
]}  # fmt: skip


def _uv() -> Path:
    """uv, at the version pinned in uv.txt, in a virtual environment of its own."""
    uv = UV_VENV / "bin" / "uv"
    if not uv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(UV_VENV)], check=True, timeout=300)
        subprocess.run(
            [str(UV_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
             "-r", str(HERE / "uv.txt")], check=True, timeout=INSTALL_SECONDS,
        )  # fmt: skip
    return uv


def ensure_venv(peer: Peer) -> bool:
    """Create the peer's environment from its lock if it is missing; whether it had to."""
    if (peer.bin / "python").exists():
        return False
    uv, venv = str(_uv()), peer.folder / ".venv"
    base = getattr(sys, "_base_executable", sys.executable)
    for command in (
        [uv, "venv", "--quiet", "--python", base, str(venv)],
        [uv, "pip", "sync", "--quiet", "--python", str(peer.bin / "python"),
         str(peer.folder / "requirements.lock")],
    ):  # fmt: skip
        subprocess.run(command, check=True, cwd=peer.folder, timeout=INSTALL_SECONDS)
    return True


@contextlib.contextmanager
def served_peer(peer: Peer, logs: Path) -> Iterator[Served]:
    """The peer's server on a free port (its environment made first if missing), until the
    block ends."""
    ensure_venv(peer)
    port = free_port()
    env = {"PYTHONUNBUFFERED": "1", **peer.env}
    server = start(peer.start(peer.bin, port), port, logs / f"{peer.name}.log", env,
                   ready_path=peer.ready_path, cwd=peer.folder)  # fmt: skip
    server.url = server.url.replace("localhost", "127.0.0.1")  # where the peers listen
    try:
        yield server
    finally:
        stop(server)


def footprint(pid: int) -> dict:
    """RSS (MiB) and threads, summed over a server's process tree."""
    rss = threads = 0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            rss += process.memory_info().rss
            threads += process.num_threads()
    return {"rss_mib": round(rss / 2**20, 1), "threads": threads}
