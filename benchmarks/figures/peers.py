"""Figure 9: the app's async page beside the same seed demo in five peer frameworks
(benchmarks/peers/), measured alike with the DOM probe (benchmarks/dom_probe.py), each server
fresh and alone on the machine:

- click to feedback: `plan.peer_clicks` real clicks 1 s apart in one tab, ms from each click
  to the first new "Running K", alone and with `plan.peer_background_tabs` other browser tabs
  clicking every 2 s (by the page's own timer); clicks that got no new "Running" are counted;
- the burst: 100 clicks in one JavaScript loop, ms until "Finished 100", or what showed;
- memory and threads per idle session: the server's process tree with 1 and with
  `plan.peer_idle_tabs` tabs open.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from playwright.sync_api import Page

from benchmarks import dom_probe
from benchmarks.figures import Bench, close
from benchmarks.peers import PEERS, footprint, served_peer
from benchmarks.stats import p95_counting_misses, summary

SETTLE_MS = 2000  # after opening tabs, before reading memory: late connections, first renders
QUIET_S = 5.0  # a wait for texts ends once nothing changed for this long


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # the demo's page
    pid: int
    connected_js: str | None = None


@contextlib.contextmanager
def serving(bench: Bench, name: str) -> Iterator[Server]:
    if name == "app":
        with bench.servers.fresh("app") as target:
            yield Server(name, f"{target.url}/async_callbacks", target.pid)
        return
    peer = PEERS[name]
    with served_peer(peer, bench.logs) as served:
        yield Server(name, f"{served.url}/", served.pid, peer.connected_js)


def open_tab(bench: Bench, server: Server) -> Page:
    """A new browser context (a new session) with the page shown and its connection up."""
    page = bench.browser.new_context().new_page()
    page.goto(server.url, wait_until="load", timeout=60000)
    page.get_by_role("button", name="Click me!").wait_for(timeout=60000)
    if server.connected_js:
        page.wait_for_function(server.connected_js, timeout=60000)
    return page


def idle_sessions(bench: Bench, server: Server) -> dict:
    tabs = [open_tab(bench, server)]
    tabs[0].wait_for_timeout(SETTLE_MS)
    one = footprint(server.pid)
    tabs += [open_tab(bench, server) for _ in range(bench.plan.peer_idle_tabs - 1)]
    tabs[0].wait_for_timeout(SETTLE_MS)
    many = footprint(server.pid)
    close(tabs)
    extra = bench.plan.peer_idle_tabs - 1
    return {
        "one": one, "many": many, "tabs": bench.plan.peer_idle_tabs,
        "mib_per_session": round((many["rss_mib"] - one["rss_mib"]) / extra, 2),
        "threads_per_session": round((many["threads"] - one["threads"]) / extra, 2),
    }  # fmt: skip


def clicks(bench: Bench, server: Server) -> dict:
    page = open_tab(bench, server)
    dom_probe.install(page)
    button = page.get_by_role("button", name="Click me!")
    started = time.monotonic()
    for i in range(bench.plan.peer_clicks):
        page.wait_for_timeout(max(0.0, (started + i - time.monotonic()) * 1000))
        button.click()

    def all_finished(st: dict) -> bool:
        running = dom_probe.first_seen(st["log"], "Running")
        return bool(running) and set(running) <= set(dom_probe.first_seen(st["log"], "Finished"))

    st = dom_probe.wait_quiet(page, all_finished, QUIET_S, limit_s=30)
    close([page])
    seen = dom_probe.attribute(st)
    latencies = seen.pop("latencies")
    p95 = p95_counting_misses(latencies, seen["without_feedback"])
    return {**summary(latencies), "p95_counting_lost": p95, **seen}


def loaded(bench: Bench, server: Server) -> dict:
    background = [open_tab(bench, server) for _ in range(bench.plan.peer_background_tabs)]
    for tab in background:
        tab.evaluate(dom_probe.CLICK_EVERY, 2000)
    result = clicks(bench, server)
    close(background)
    return {**result, "background_tabs": len(background)}


def burst(bench: Bench, server: Server) -> dict:
    page = open_tab(bench, server)
    dom_probe.install(page)
    result = dom_probe.burst(page, 100, QUIET_S, bench.plan.peer_burst_limit_s)
    close([page])
    return result


def measure_server(bench: Bench, name: str) -> dict:
    started = time.monotonic()
    with serving(bench, name) as server:
        out = {
            "version": PEERS[name].version if name in PEERS else None,
            "idle": idle_sessions(bench, server),
            "alone": clicks(bench, server),
            "loaded": loaded(bench, server),
            "burst": burst(bench, server),
        }
    out["seconds"] = round(time.monotonic() - started, 1)
    return out


def measure(bench: Bench) -> dict:
    out = {}
    for name in ["app", *PEERS]:
        print(f"    {name} ...", flush=True)
        try:
            out[name] = measure_server(bench, name)
        except Exception as exc:  # one peer's failure must not lose the others' numbers
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
