"""How fast /health answers while the worker pool computes: idle, then with both workers busy
on NumPy jobs and more waiting.

    python -m benchmarks.health_latency [--requests 60]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from benchmarks.queue_pickup import percentile
from tests.support.browser import browser_executable
from tests.support.serving import app_command, free_port, served


def latencies(url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
        except urllib.error.HTTPError as degraded:  # 503 is an answer too
            degraded.read()
        out.append((time.perf_counter() - started) * 1000)
    return out


def line(name: str, values: list[float]) -> str:
    return (
        f"{name:28} median {statistics.median(values):6.1f} ms   "
        f"p95 {percentile(values, 0.95):6.1f} ms   max {max(values):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="bench-")) / "app.log"
    env = {"QUEUE_ITEM_SECONDS": "10"}
    with served(app_command(), port, log, env) as app, sync_playwright() as playwright:
        health = f"{app.url}/health"
        idle = latencies(health, args.requests)
        path = browser_executable()
        browser = playwright.chromium.launch(**({"executable_path": path} if path else {}))
        page = browser.new_page(base_url=app.url)
        page.goto("/threaded_queue")
        page.get_by_role("button", name="Compute (NumPy, releases the GIL)").click()
        for _ in range(4):
            page.get_by_role("button", name="Click to launch").click()
        expect(page.get_by_text("Shared pool: 2 of 2 workers busy")).to_be_visible()
        busy = latencies(health, args.requests)
        browser.close()
    print(line("/health, pool idle", idle))
    print(line("/health, 2 workers computing", busy))


if __name__ == "__main__":
    main()
