"""Build the Docker image, run it, check it in a real browser, stop it; print one verdict line.

    python -m deploy.smoke            (what `make docker-smoke` runs)

With a Docker engine that answers, it uses `docker build` and `docker run`. Without one (as on
machines where only the docker client is installed), it builds with podman (chroot isolation,
from a Debian base image made offline with debootstrap) and, since containers cannot start
there, runs the image's own CMD in a chroot of the mounted image, as the image's user, with
the image's environment. Either way it then waits for the HEALTHCHECK endpoint, loads every
page in headless Chromium, clicks each page's button once, and stops the server with SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.support.browser import launch
from tests.support.serving import ROOT, free_port

IMAGE = "localhost/panel-concurrency:smoke"
LOCAL_BASE = "localhost/debian-local:bookworm"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
BUILD_CA_PATH = "/run/host-ca-bundle.crt"


class SmokeFailed(RuntimeError):
    pass


def sh(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    result = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    return result.returncode == 0


def ensure_tools(*tools: str) -> None:
    """Install missing build tools with apt-get when running as root on Debian."""
    missing = [t for t in tools if not shutil.which(t)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SmokeFailed(f"missing {', '.join(missing)}; install them and run again")
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sh("apt-get", "update", "-qq", env=env)
    sh("apt-get", "install", "-y", "-qq", *missing, env=env)


def debian_mirror() -> str:
    """The Debian mirror apt uses here."""
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        if not source.is_file():
            continue
        text = source.read_text()
        match = re.search(r"(?:URIs:|deb)\s+(https?://\S+/debian)\s", text + "\n")
        if match and "security" not in match.group(1):
            return match.group(1)
    return "http://deb.debian.org/debian"


def local_base_image() -> str:
    """A bookworm base image made offline (no registry can be reached here)."""
    if subprocess.run(["podman", "image", "exists", LOCAL_BASE]).returncode == 0:
        return LOCAL_BASE
    with tempfile.TemporaryDirectory(prefix="rootfs-") as rootfs:
        print(f"making {LOCAL_BASE} with debootstrap", flush=True)
        sh("debootstrap", "--variant=minbase", "bookworm", rootfs, debian_mirror())
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        sh("podman", "import", "-", LOCAL_BASE, stdin=tar.stdout)
        tar.wait()
    return LOCAL_BASE


def build(engine: str) -> float:
    started = time.monotonic()
    if engine == "docker":
        sh("docker", "build", "-t", IMAGE, str(ROOT))
    else:
        sh(
            "podman", "build", "--isolation=chroot", "--format", "docker",
            "--build-arg", f"BASE_IMAGE={local_base_image()}",
            # pip inside the build trusts what the host trusts (a proxy's CA, if any), from a
            # path of its own: the image's ca-certificates package owns /etc/ssl/certs.
            "--build-arg", f"PIP_CA_BUNDLE={BUILD_CA_PATH}",
            "-v", f"{CA_BUNDLE}:{BUILD_CA_PATH}:ro", "-t", IMAGE, str(ROOT),
        )  # fmt: skip
    return time.monotonic() - started


def image_config(engine: str) -> dict:
    out = sh(engine, "image", "inspect", IMAGE).stdout
    info = json.loads(out)[0]
    config = {"size": info.get("Size", 0), **(info.get("Config") or {})}
    # docker puts the health check in Config; podman beside it
    config.setdefault("Healthcheck", info.get("Healthcheck"))
    return config


class Running:
    """The image's server, started by the engine or in a chroot of the mounted image."""

    def __init__(self, engine: str, config: dict, port: int) -> None:
        self.engine, self.config, self.port = engine, config, port
        self.container: str | None = None
        self.process: subprocess.Popen | None = None
        self.mount: str | None = None
        self.proc_mounted = False

    def start(self) -> None:
        origin = f"localhost:{self.port}"
        if self.engine == "docker":
            self.container = sh(
                "docker", "run", "-d", "-p", f"{self.port}:5006",
                "-e", f"ALLOW_WEBSOCKET_ORIGIN={origin}", IMAGE,
            ).stdout.strip()  # fmt: skip
            return
        self.mount = sh("podman", "image", "mount", IMAGE).stdout.strip()
        # Python reads /proc for its memory figure; the app works without it.
        self.proc_mounted = (
            subprocess.run(["mount", "-t", "proc", "proc", f"{self.mount}/proc"]).returncode == 0
        )
        env = [e for e in self.config.get("Env", []) if not e.startswith(("PORT=", "ALLOW_"))]
        env += [f"PORT={self.port}", f"ALLOW_WEBSOCKET_ORIGIN={origin}"]
        user = self.config.get("User") or "0"
        self.process = subprocess.Popen(
            ["chroot", f"--userspec={user}:{user}", self.mount, "/usr/bin/env", "-i",
             "-C", self.config.get("WorkingDir") or "/", *env, *self.config["Cmd"]],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def healthcheck(self) -> bool:
        """Run the image's own HEALTHCHECK command (in the chroot), or ask /liveness."""
        test = (self.config.get("Healthcheck") or {}).get("Test") or []
        if self.mount and test[:1] == ["CMD"]:
            env = [e for e in self.config.get("Env", []) if not e.startswith("PORT=")]
            result = subprocess.run(
                ["chroot", self.mount, "/usr/bin/env", "-i", *env, f"PORT={self.port}",
                 *test[1:]],
                capture_output=True, timeout=10,
            )  # fmt: skip
            return result.returncode == 0
        try:
            with urllib.request.urlopen(f"http://localhost:{self.port}/liveness", timeout=4) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> float:
        """SIGTERM, and the seconds until the server exited."""
        started = time.monotonic()
        if self.container:
            sh("docker", "stop", "--time", "10", self.container)
            return time.monotonic() - started
        assert self.process is not None
        # chroot execs env, which execs python: the server is this very process.
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise SmokeFailed("the server did not stop within 15 s of SIGTERM") from None
        return time.monotonic() - started

    def cleanup(self) -> None:
        if self.container:
            subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
        if self.process and self.process.poll() is None:
            self.process.kill()
        if self.proc_mounted:
            subprocess.run(["umount", f"{self.mount}/proc"], capture_output=True)
        if self.mount:
            subprocess.run(["podman", "image", "unmount", IMAGE], capture_output=True)

    def output(self) -> str:
        if self.container:
            return subprocess.run(["docker", "logs", self.container], capture_output=True,
                                  text=True).stdout  # fmt: skip
        if self.process and self.process.stdout and self.process.poll() is not None:
            return self.process.stdout.read()
        return ""


def wait_healthy(running: Running, timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if running.process is not None and running.process.poll() is not None:
            raise SmokeFailed(f"the server exited:\n{running.output()}")
        if running.healthcheck():
            return time.monotonic() - started
        time.sleep(0.5)  # a health check every half second, with a bound
    raise SmokeFailed(f"not healthy within {timeout:.0f} s")


def check_behaviour(running: Running, config: dict) -> None:
    """What the image promises beyond serving pages: its health check asks /liveness (restart
    only a server that does not answer), /health says ready, and the server is not root."""
    test = " ".join((config.get("Healthcheck") or {}).get("Test") or [])
    if "/liveness" not in test:
        raise SmokeFailed(f"the image's HEALTHCHECK does not ask /liveness: {test!r}")
    with urllib.request.urlopen(f"http://localhost:{running.port}/health", timeout=5) as answer:
        health = json.loads(answer.read())
    if not health.get("ready"):
        raise SmokeFailed(f"/health does not say ready: {health}")
    if running.process is not None:  # in the chroot: the server is this process
        status = Path(f"/proc/{running.process.pid}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        if uid == "0":
            raise SmokeFailed("the server runs as root")


def browse(base_url: str) -> int:
    """Load every page, click each page's button once; return the number of clicks."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(base_url=base_url)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto("/")
        expect(page.get_by_role("navigation", name="Pages")).to_be_visible(timeout=20000)
        page.goto("/async_callbacks")
        page.get_by_role("button", name="Click me!").click()
        expect(page.get_by_text("Running 1")).to_be_visible(timeout=5000)
        page.goto("/bokeh_streaming")
        page.get_by_role("button", name="Click me!").click()
        expect(page.get_by_text("Showing the last 6 of 6 points")).to_be_visible(timeout=5000)
        page.goto("/threaded_queue")
        page.get_by_role("button", name="Click to launch").click()
        expect(page.get_by_text("Processing item 1 of 1 items in queue.")).to_be_visible(
            timeout=5000
        )
        browser.close()
    if errors:
        raise SmokeFailed(f"console errors: {errors}")
    return 3


def main() -> int:
    engine = "docker" if docker_engine_answers() else "podman"
    try:
        if engine == "podman":
            ensure_tools("podman", "debootstrap")
        build_s = build(engine)
        config = image_config(engine)
        running = Running(engine, config, free_port())
        try:
            running.start()
            healthy_s = wait_healthy(running)
            check_behaviour(running, config)
            clicks = browse(f"http://localhost:{running.port}")
            stop_s = running.stop()
        finally:
            running.cleanup()
    except (SmokeFailed, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None) or str(error)
        print(f"docker-smoke: FAIL ({engine}): {detail.strip()[-2000:]}")
        return 1
    how = "docker run" if engine == "docker" else "podman build, CMD run in a chroot of the image"
    print(
        f"docker-smoke: PASS ({how}): built in {build_s:.0f} s, image "
        f"{config['size'] / 2**20:.0f} MiB, healthy {healthy_s:.1f} s after start (liveness; "
        f"ready on /health; not root), 4 pages "
        f"loaded and {clicks} buttons clicked, stopped {stop_s:.1f} s after SIGTERM"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
