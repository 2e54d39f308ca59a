"""Queue pickup: the time from a click on "Click to launch" to "Processing item" with an idle
worker, for the app and for the guide's polling example, served side by side by the same
`panel serve` and measured alternately in one run.

    python -m benchmarks.queue_pickup [--rounds 12] [--out docs/benchmarks/queue_pickup.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import panel
from playwright.sync_api import Page, expect, sync_playwright

from benchmarks.browser import install_click_clock, ms_from_click_until
from tests.support.browser import browser_executable
from tests.support.serving import ROOT, app_command, free_port, script_command, served

BASELINE = ROOT / "benchmarks" / "baseline" / "threaded_queue.py"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
        "n": len(values),
    }


def measure_once(page: Page, rng: random.Random) -> float:
    expect(page.get_by_text("Queue empty")).to_be_visible(timeout=15000)
    # Click at a random moment, so a polling worker is caught at a random point of its sleep.
    page.wait_for_timeout(rng.uniform(0, 1000))
    page.get_by_role("button", name="Click to launch").click()
    return ms_from_click_until(page, "Processing item 1 of 1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks/queue_pickup.json")
    args = parser.parse_args()
    rng = random.Random(1)
    logs = Path(tempfile.mkdtemp(prefix="bench-"))
    app_port, base_port = free_port(), free_port()
    # Items of 0.5 s keep the run short; pickup does not depend on how long an item works.
    with (
        served(app_command(), app_port, logs / "app.log", {"QUEUE_ITEM_SECONDS": "0.5"}) as app,
        served(script_command([BASELINE], base_port), base_port, logs / "baseline.log") as base,
        sync_playwright() as playwright,
    ):
        path = browser_executable()
        browser = playwright.chromium.launch(**({"executable_path": path} if path else {}))
        pages = {
            "app": browser.new_page(base_url=app.url),
            "baseline": browser.new_page(base_url=base.url),
        }
        pages["app"].goto("/threaded_queue")
        pages["baseline"].goto("/threaded_queue")
        for page in pages.values():
            page.get_by_role("button", name="Click to launch").wait_for()
            install_click_clock(page)
        results: dict[str, list[float]] = {name: [] for name in pages}
        for _ in range(args.rounds):
            for name, page in pages.items():
                results[name].append(measure_once(page, rng))
        browser.close()

    report = {
        "benchmark": "queue pickup: click to 'Processing item' with an idle worker",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}"
        f", panel {panel.__version__}",
        "app": summary(results["app"]),
        "baseline": summary(results["baseline"]),
        "raw_ms": {k: [round(v, 1) for v in vs] for k, vs in results.items()},
    }
    report["ratio_median"] = round(
        report["baseline"]["median_ms"] / max(report["app"]["median_ms"], 0.1), 1
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'':10} {'median':>9} {'p95':>9} {'min':>9} {'max':>9}  (ms, n={args.rounds})")
    for name in ("app", "baseline"):
        s = report[name]
        print(
            f"{name:10} {s['median_ms']:9.1f} {s['p95_ms']:9.1f} {s['min_ms']:9.1f} "
            f"{s['max_ms']:9.1f}"
        )
    print(f"baseline/app median ratio: {report['ratio_median']}x  -> {args.out}")


if __name__ == "__main__":
    main()
