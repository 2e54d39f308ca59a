"""The scaled-out topology on one machine, as plain processes on loopback (`make cluster`):

    dask scheduler ── dask worker (WORKERS of them)
          │
    app replicas (REPLICAS of them, python -m app, jobs on the cluster)
          │
    haproxy on PORT (sticky by cookie, routes by /health)

    python -m deploy.cluster [--workers 2] [--replicas 2]        (PORT, default 5006)

It prints what it started and where, then waits; Ctrl-C or SIGTERM stops everything it
started (the balancer first, then the replicas, which drain, then the workers and the
scheduler) and leaves no process behind. `Cluster` is also what the end-to-end tests start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.serving import ROOT, answers, free_port

DASK = str(Path(sys.executable).parent / "dask")
# What the Dask backend needs of the cluster (app/core/backends/dask.py): a worker thread takes
# one job and the rest wait, in order, in the scheduler's queue; a job whose worker dies fails
# instead of running again; a dead replica's leases of the shared bound are freed promptly.
CLUSTER_CONFIG = {
    "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    "DASK_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_VALIDATION_INTERVAL": "1s",
}
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
# The workers' CPU priority below the replicas' (a nice value, 0 to 19). On one machine a
# compute job otherwise takes the core a replica's loop is waiting for: with both workers
# computing on 2 cores, the replica's loop thread waited 1.2-1.3 s of every 8 s for a core
# (/proc/<pid>/task/<pid>/schedstat), and 0.4-0.6 s with the workers at 19.
WORKER_NICE = 19
READY_SECONDS = 90.0


@dataclass
class Started:
    """One process of the topology."""

    name: str
    process: subprocess.Popen
    address: str
    log: Path

    def stop(self, timeout: float = 15.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class Cluster:
    """What `start` started: the balancer's URL, the scheduler, the workers, the replicas."""

    url: str
    scheduler: str
    logs: Path
    parts: list[Started] = field(default_factory=list)

    def part(self, name: str) -> Started:
        return next(p for p in self.parts if p.name == name)

    def describe(self) -> str:
        lines = [f"{p.name:<12} pid {p.process.pid:<7} {p.address:<24} log {p.log}"
                 for p in self.parts]  # fmt: skip
        return "\n".join(lines)

    def stop(self) -> None:
        # The balancer first (no new visitors), then the replicas (they drain: every job ends
        # in a final state their pages see), then what ran the jobs.
        for kind in ("balancer", "replica", "worker", "scheduler"):
            for part in [p for p in self.parts if p.name.startswith(kind)]:
                part.stop()


def _spawn(
    name: str, command: list[str], logs: Path, env: dict[str, str], address: str, nice: int = 0
) -> Started:
    log = logs / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["nice", "-n", str(nice), *command] if nice else command, cwd=ROOT,
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    if nice:
        _group_nice(process.pid, nice)
    return Started(name, process, address, log)


def _group_nice(pid: int, nice: int) -> None:
    """Give the session of `pid` the nice value `nice` as a whole. With Linux's autogroup (on
    by default) each session is a scheduling group of its own, weighed against the others as
    one: a process's own nice value only ranks it within its session, so the workers, each in
    its own session, would still take as much CPU as a replica."""
    group = Path(f"/proc/{pid}/autogroup")
    with contextlib.suppress(OSError):  # no autogroup: the process's nice value is enough
        if group.exists():
            group.write_text(str(nice))


def _wait(check, part: Started, what: str, timeout: float = READY_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if part.process.poll() is not None:
            raise RuntimeError(f"{part.name} exited ({part.process.returncode}): see {part.log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{part.name}: {what} not within {timeout:.0f} s; see {part.log}")
        time.sleep(0.1)  # a bounded readiness check, not a wait for a result


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _registered(part: Started, count: int) -> bool:
    return part.log.read_text(errors="replace").count("Register worker") >= count


def start(
    port: int, workers: int = 2, replicas: int = 2, logs: Path | None = None,
    replica_env: dict[str, str] | None = None,
) -> Cluster:
    """Start the topology; raise (having stopped what it started) if a part does not come up."""
    if not shutil.which("haproxy"):
        raise RuntimeError("haproxy is not installed: apt-get install haproxy (Debian)")
    logs = logs or Path(tempfile.mkdtemp(prefix="cluster-"))
    scheduler_port = free_port()
    scheduler = f"tcp://127.0.0.1:{scheduler_port}"
    cluster = Cluster(url=f"http://localhost:{port}", scheduler=scheduler, logs=logs)
    try:
        part = _spawn("scheduler", [
            DASK, "scheduler", "--host", "127.0.0.1", "--port", str(scheduler_port),
            "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
        ], logs, CLUSTER_CONFIG, scheduler)  # fmt: skip
        cluster.parts.append(part)
        _wait(lambda: _port_open(scheduler_port), part, "the scheduler's port")
        for n in range(1, workers + 1):
            cluster.parts.append(_spawn(f"worker-{n}", [
                DASK, "worker", scheduler, "--name", f"worker-{n}", "--nthreads", "1",
                "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard",
                "--dashboard-address", "127.0.0.1:0",
            ], logs, CLUSTER_CONFIG, "1 thread", nice=WORKER_NICE))  # fmt: skip
        _wait(lambda: _registered(part, workers), part, f"{workers} workers registered")
        secret = os.environ.get("BOKEH_SECRET_KEY") or secrets.token_urlsafe(32)
        origins = f"localhost:{port},127.0.0.1:{port}"
        upstreams = []
        for n in range(1, replicas + 1):
            replica_port = free_port()
            env = {
                "PORT": str(replica_port), "ADDRESS": "127.0.0.1", "REPLICA_NAME": f"replica-{n}",
                "DASK_SCHEDULER_ADDRESS": scheduler, "BOKEH_SECRET_KEY": secret,
                "ALLOW_WEBSOCKET_ORIGIN": origins, **(replica_env or {}),
            }  # fmt: skip
            replica = _spawn(f"replica-{n}", [sys.executable, "-m", "app", "--use-xheaders"],
                             logs, env, f"http://127.0.0.1:{replica_port}")  # fmt: skip
            cluster.parts.append(replica)
            upstreams.append(f"127.0.0.1:{replica_port}")
        for replica in [p for p in cluster.parts if p.name.startswith("replica")]:
            _wait(lambda r=replica: answers(f"{r.address}/health"), replica, "/health ready")
        env = {"BALANCER_BIND": f"127.0.0.1:{port}"}
        env.update({f"REPLICA_{n}": address for n, address in enumerate(upstreams, start=1)})
        balancer = _spawn("balancer", ["haproxy", "-db", "-f", str(HAPROXY_CFG)], logs, env,
                          cluster.url)  # fmt: skip
        cluster.parts.append(balancer)
        _wait(lambda: answers(f"{cluster.url}/health"), balancer, "/health through it")
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def running(port: int, **kwargs) -> Iterator[Cluster]:
    cluster = start(port, **kwargs)
    try:
        yield cluster
    finally:
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=2, choices=(2,),
                        help="replicas behind the balancer (deploy/haproxy.cfg names two)")
    args = parser.parse_args()
    port = int(os.environ.get("PORT", "5006"))
    stopping = False

    def on_signal(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cluster = start(port, workers=args.workers, replicas=args.replicas)
    print(f"Serving the app at {cluster.url} (scheduler {cluster.scheduler}):")
    print(cluster.describe(), flush=True)
    print("Ctrl-C or SIGTERM stops everything.", flush=True)
    try:
        while not stopping:
            signal.pause()
    finally:
        print("stopping...", flush=True)
        cluster.stop()
        print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
