"""The benchmark suite: the app and the guide's own examples (benchmarks/baseline/), served by
the same `panel serve`, measured side by side in one run, in real browser sessions.

    python -m benchmarks.run [--quick] [--out docs/benchmarks]      (make bench / make bench-quick)

Writes results.json and results.md (the table README.md shows) under --out.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import panel
import psutil
from playwright.sync_api import Browser, Page, sync_playwright

from benchmarks import figures
from tests.support.browser import browser_executable
from tests.support.serving import ROOT, Served, app_command, free_port, served

BASELINE_SCRIPTS = ["async_callbacks.py", "bokeh_streaming.py", "threaded_queue.py", "bare.py"]


def baseline_command(port: int) -> list[str]:
    scripts = [str(ROOT / "benchmarks" / "baseline" / name) for name in BASELINE_SCRIPTS]
    return [
        sys.executable, "-m", "panel", "serve", *scripts, "--port", str(port),
        "--allow-websocket-origin", f"localhost:{port}", "--liveness",
        "--check-unused-sessions", "500", "--unused-session-lifetime", "3000",
    ]  # fmt: skip


def machine() -> str:
    cpus = psutil.cpu_count(logical=True)
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.machine()}, {cpus} CPUs, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, panel {panel.__version__}"
    )


def one_run(sessions: list[int], repeats: int, figures_wanted: set[int], logs: Path) -> dict:
    """Every wanted figure once, against freshly started servers."""
    app_env = {
        "ASYNC_MAX_TASKS": "200",  # figure 2 runs 100 tasks in one session
        "QUEUE_MAX_WAITING": "1000",
        "QUEUE_MAX_PER_SESSION": "1000",
    }
    app_args = ["--check-unused-sessions", "500", "--unused-session-lifetime", "3000"]
    results: dict = {}
    with ExitStack() as stack:
        app_port, base_port = free_port(), free_port()
        app = stack.enter_context(
            served(app_command(app_args), app_port, logs / "app.log", app_env)
        )
        base = stack.enter_context(
            served(baseline_command(base_port), base_port, logs / "baseline.log")
        )
        playwright = stack.enter_context(sync_playwright())
        path = browser_executable()
        browser: Browser = playwright.chromium.launch(
            **({"executable_path": path} if path else {})
        )
        targets: dict[str, Served] = {"app": app, "baseline": base}

        def page_of(name: str, path: str, frames: list | None = None) -> Page:
            """A rendered page in a context of its own (its own session); the websocket frames
            it receives are appended to `frames` if given."""
            page = browser.new_context(base_url=targets[name].url).new_page()
            if frames is not None:
                page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(p)))
            page.goto(path)
            page.wait_for_function("() => window.Bokeh && window.Bokeh.documents.length > 0")
            return page

        steps = [
            ("click_to_feedback_ms", lambda: figures.click_to_feedback(
                page_of, targets, sessions, repeats)),
            ("hundred_tasks_extra_ms", lambda: figures.hundred_tasks(page_of, repeats)),
            ("queue_pickup_ms", lambda: figures.queue_pickup(page_of, repeats * 2)),
            ("bytes_per_update", lambda: figures.bytes_per_update(page_of)),
            ("memory_and_threads", lambda: figures.memory_and_threads(
                page_of, targets, sessions)),
            ("loop_lag_computing_ms", lambda: figures.loop_lag_while_computing(
                page_of, targets)),
            ("page_load_ms", lambda: figures.page_load(page_of, repeats)),
        ]  # fmt: skip
        numbered = list(enumerate(steps, start=1))
        # Figure 5 first, while the servers are fresh: memory freed by earlier sessions would be
        # reused by its sessions and hide what they cost.
        numbered.sort(key=lambda item: item[0] != 5)
        for number, (key, measure) in numbered:
            if number in figures_wanted:
                print(f"  figure {number}: {key} ...", flush=True)
                results[key] = measure()
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sessions and repetitions")
    parser.add_argument("--runs", type=int, help="whole runs, pooled (default 3; quick: 1)")
    parser.add_argument("--figures", default="1,2,3,4,5,6,7", help="which figures, e.g. 1,5")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = parser.parse_args()
    sessions = [1, 10] if args.quick else [1, 10, 50, 100]
    repeats = 3 if args.quick else 10
    runs = args.runs or (1 if args.quick else 3)
    wanted = {int(n) for n in args.figures.split(",")}
    started = time.monotonic()
    per_run = []
    for run in range(1, runs + 1):
        logs = Path(tempfile.mkdtemp(prefix=f"bench-run{run}-"))
        print(f"run {run} of {runs} (server logs in {logs})", flush=True)
        per_run.append(one_run(sessions, repeats, wanted, logs))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "quick": args.quick,
        "runs": runs,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
        "results": figures.combine(per_run),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "results.md").write_text(figures.markdown(report))
    figures.plots(report, args.out)
    print((args.out / "results.md").read_text())


if __name__ == "__main__":
    main()
