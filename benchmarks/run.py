"""The benchmark suite: the app beside the guide's own examples (benchmarks/baseline/), the
scaled-out topology and five peer frameworks (benchmarks/peers/), measured side by side in one
run, in real browser sessions and protocol-level ones.

    python -m benchmarks.run [--quick] [--runs 3] [--figures 1,2,...] [--out docs/benchmarks]

(make bench / make bench-quick). Each run starts its servers afresh; the cheap figures are
measured in every run and pooled, the costly ones (8, 9, and the Dask parts of 3 and 6) in the
first run only. Writes results.json, results.md (the table README.md quotes) and plots.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import panel
import psutil
from playwright.sync_api import sync_playwright

from benchmarks import report
from benchmarks.figures import FIGURES, ORDER, QUICK, Bench, Plan
from benchmarks.servers import Servers
from benchmarks.stats import combine
from tests.support.browser import launch_args
from tests.support.serving import ROOT

# Nothing but loopback resolves in the benchmark's browser: no page can reach outside.
LOCAL_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


def machine() -> str:
    cpus = psutil.cpu_count(logical=True)
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.machine()}, {cpus} CPUs, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, panel {panel.__version__}"
    )


def measure_figure(number: int, bench: Bench) -> tuple[str, dict, float]:
    """One figure; its results (or the error that stopped it) and how long it took."""
    figure = next(f for f in FIGURES if f.number == number)
    print(f"  figure {number}: {figure.key} ...", flush=True)
    started = time.monotonic()
    try:
        result = figure.measure(bench)
    except Exception as exc:  # one figure's failure must not lose the others' numbers
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    seconds = round(time.monotonic() - started, 1)
    print(f"  figure {number}: {seconds:.0f} s", flush=True)
    return figure.key, result, seconds


def one_run(plan: Plan, wanted: set[int], logs: Path, first_run: bool) -> dict:
    """Every wanted figure once (the costly ones only in the first run), on servers started
    for this run."""
    results: dict = {"seconds": {}}
    servers = Servers(logs)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_args(), args=[LOCAL_ONLY])
        bench = Bench(plan, servers, browser, logs, first_run)
        try:
            for number in ORDER:
                every_run = next(f.every_run for f in FIGURES if f.number == number)
                if number in wanted and (every_run or first_run):
                    key, result, seconds = measure_figure(number, bench)
                    results[key] = result
                    results["seconds"][key] = seconds
        finally:
            browser.close()
            servers.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: less of everything")
    parser.add_argument("--runs", type=int, help="whole runs, pooled (default 3; quick: 1)")
    parser.add_argument("--figures", default="1,2,3,4,5,6,7,8,9", help="which, e.g. 1,5")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    runs = args.runs or (1 if args.quick else 3)
    wanted = {int(n) for n in args.figures.split(",")}
    started = time.monotonic()
    per_run = []
    for run in range(1, runs + 1):
        logs = Path(tempfile.mkdtemp(prefix=f"bench-run{run}-"))
        print(f"run {run} of {runs} (server logs in {logs})", flush=True)
        per_run.append(one_run(plan, wanted, logs, first_run=run == 1))
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "quick": args.quick,
        "runs": runs,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
        "plan": asdict(plan),
        "results": combine(per_run),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "results.md").write_text(report.markdown(result))
    report.plots(result, args.out)
    print((args.out / "results.md").read_text())


if __name__ == "__main__":
    main()
