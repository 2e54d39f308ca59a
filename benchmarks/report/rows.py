"""The main table's rows, per figure (1 to 8): figure, app, what it is compared with, ratio
(the other / the app, or the app / the other where more is better: above 1 the app is
better), target and verdict."""

from __future__ import annotations

from benchmarks.report.cells import at_most, ms, number, receipts, row, times, verdict, within

GC_BOUND_MS = 50.0


def _latency_cell(a: dict) -> str:
    lost = f"; **{a['no_feedback']} clicks without feedback**" if a.get("no_feedback") else ""
    return f"{ms(a)}; server CPU {a.get('server_cpu_percent')}%{lost}"


def click_to_feedback(r: dict) -> list[str]:
    app, base = r["app"], r["baseline"]
    counts = [k for k in app if k.isdigit()]
    one = app.get("1", {}).get("p95")
    out = []
    for n in counts:
        a, b = app[n], base.get(n, {})
        target = (f"p95 ≤ 1.5x the 1-session p95: {within(a['p95'], one, 1.5)}"
                  if n == counts[-1] and n != "1" else "")  # fmt: skip
        out.append(row(f'1. Click to "Running N", {n} sessions (median / p95)', _latency_cell(a),
                       _latency_cell(b), f"{times(b.get('p95'), a['p95'])} (p95)", target))
    a, b = app["churn"], base["churn"]
    visits = lambda c: "{opened} opened, {closed} closed, {failed} failed".format(**c["visits"])  # noqa: E731
    out.append(row(
        f'1. Click to "Running N", {a["sessions"]} sessions while sessions open and close '
        "(median / p95)", f"{_latency_cell(a)}; {visits(a)}", f"{_latency_cell(b)}; {visits(b)}",
        f"{times(b.get('p95'), a['p95'])} (p95)",
        f"p95 ≤ 1.5x the 1-session p95: {within(a['p95'], one, 1.5)}",
    ))  # fmt: skip
    worst = max((v.get("gc_max_ms") or 0 for k, v in app.items() if k != "background"), default=0)
    out.append(row("1. Longest garbage-collection pause during the figure", f"{worst:.0f} ms",
                   "no probe", "—", f"none over 50 ms: {at_most(worst, GC_BOUND_MS)}"))
    out.append(row("1. What the background sessions received", receipts(app["background"]),
                   receipts(base["background"]), "—", ""))
    return out


def burst(r: dict) -> list[str]:
    a, b = r["app"], r["baseline"]
    extra, cpu = a["extra_ms"], a["cpu_ms_per_click"]
    return [
        row('2. 100 clicks at once: "Finished 100" later than 2 s (median / p95)', ms(extra),
            ms(b["extra_ms"]), times(b["extra_ms"]["median"], extra["median"]),
            f"≤ 300 ms: {at_most(extra['median'], 300)}"),
        row("2. Server CPU per click event, over the burst (median / p95)", ms(cpu),
            ms(b["cpu_ms_per_click"]), times(b["cpu_ms_per_click"]["median"], cpu["median"]),
            f"≤ 3 ms: {at_most(cpu['median'], 3)}"),
    ]  # fmt: skip


def queue(r: dict) -> list[str]:
    pickup, rate = r["pickup_ms"], r["jobs_per_second"]
    a = pickup["app"]
    out = [row('3. Queue pickup, click to "Processing", threads (median / p95)', ms(a),
               f"guide's polling example: {ms(pickup['baseline'])}",
               times(pickup["baseline"]["median"], a["median"]),
               f"< 50 ms: {verdict(a['median'] is not None and a['median'] < 50)}")]
    if "dask" in pickup:
        d = pickup["dask"]
        out.append(row('3. Queue pickup on Dask, through the balancer (median / p95)', ms(d),
                       f"threads: {ms(a)}", times(a["median"], d["median"]),
                       f"< 100 ms: {verdict(d['median'] is not None and d['median'] < 100)}"))
    threads, dask = rate["threads"], rate.get("dask")
    out.append(row(
        f"3. Jobs per second, {threads['items']} items of 0.05 s from 10 sessions",
        f"threads: {threads['per_second']}/s ({threads['seconds']} s)",
        f"Dask: {dask['per_second']}/s ({dask['seconds']} s)" if dask else "Dask: not measured",
        f"{times(threads['per_second'], dask['per_second'])} (threads / Dask)" if dask else "—",
        "",
    ))  # fmt: skip
    return out


def bytes_per_update(r: dict) -> list[str]:
    app, base = r["app"], r["baseline"]
    short, long = app["short"]["bytes"], app["long"]["bytes"]
    out = []
    for key in ("short", "long"):
        a, b = app[key], base[key]
        guide = ("not measured (no way to build a long history)" if b["points_arrived"] is None
                 else f"{b['bytes']} B" + ("" if b["points_arrived"] else ", points never arrive"))
        target = (f"independent of the history: {within(long, short, 1.2)}" if key == "long"
                  else "")  # fmt: skip
        out.append(row(f"4. Bytes per 5-point update, {a['history']:,} points of history",
                       f"{a['bytes']} B", guide, times(b["bytes"], a["bytes"]), target))
    return out


def memory(r: dict) -> list[str]:
    out = []
    app_rows, base_rows = r["app"], r["baseline"]
    flat = len({x["threads_open"] for x in app_rows}) == 1
    for a, b in zip(app_rows, base_rows, strict=True):
        out.append(row(
            f"5. {a['sessions']} idle sessions: MiB per session; threads open → after close",
            f"{a['mib_per_session']} MiB; {a['threads_open']} → {a['threads_after_close']}",
            f"{b['mib_per_session']} MiB; {b['threads_open']} → {b['threads_after_close']}",
            f"{times(b['threads_open'], a['threads_open'])} (threads)",
            f"under 1 MiB: {verdict(a['mib_per_session'] < 1)}; threads flat: {verdict(flat)}",
        ))  # fmt: skip
    c = r["churn"]
    out.append(row(
        f"5. RSS idle → after {c['seconds']:g} s of sessions opened and closed "
        f"({c['visits']['opened']} opened), once all ended",
        f"{c['rss_mib_idle']} → {c['rss_mib_after']} MiB (peak {c['rss_mib_peak']}); threads "
        f"{c['threads_idle']} → {c['threads_after']}", "not measured", "—",
        f"within 20% of idle: {within(c['rss_mib_after'], c['rss_mib_idle'], 1.2)}",
    ))  # fmt: skip
    return out


def loop_lag(r: dict) -> list[str]:
    t, base = r["threads"], r["baseline"]
    out = [row("6. Loop lag p99 while both workers compute, threads; /liveness (median / p95)",
               f"{number(t.get('loop_lag_p99_ms'), ' ms')}; {ms(t['liveness_ms'])}",
               f"no probe; {ms(base['liveness_ms'])} (its queue only sleeps)", "—",
               f"p99 < 20 ms: {verdict(t.get('loop_lag_p99_ms', 99) < 20)}")]  # fmt: skip
    if "dask" in r:
        d = r["dask"]
        out.append(row("6. Loop lag p99 while both workers compute, Dask; /liveness "
                       "(median / p95)",
                       f"{number(d.get('loop_lag_p99_ms'), ' ms')}; {ms(d['liveness_ms'])}",
                       f"threads: {number(t.get('loop_lag_p99_ms'), ' ms')}",
                       times(t.get("loop_lag_p99_ms"), d.get("loop_lag_p99_ms")),
                       f"p99 < 10 ms: {verdict(d.get('loop_lag_p99_ms', 99) < 10)}"))  # fmt: skip
    return out


def page_load(r: dict) -> list[str]:
    app, base = r["app"], r["baseline"]
    bare = base["/bare"]
    out = []
    for path, a in app.items():
        b = base.get(path)
        render = a["first_render_ms"]
        beside = a["bare_first_render_ms"]  # the bare page's loads alternating with this page's
        guide = f"{ms(b['first_render_ms'])}; " if b else ""
        out.append(row(
            f"7. First render, {path} (median / p95)", ms(render),
            f"{guide}bare one-widget page, loaded alternately: {ms(beside)}",
            f"{times(render['median'], beside['median'])} the bare page",
            f"≤ 1.3x the bare page: {within(render['median'], beside['median'], 1.3)}",
        ))  # fmt: skip
        build = a["build_cpu_ms"]["mean"]
        guide = f"{b['build_cpu_ms']['mean']} ms; " if b else ""
        out.append(row(
            f"7. Server CPU to build one session, {path} (mean)", f"{build} ms",
            f"{guide}bare page {bare['build_cpu_ms']['mean']} ms",
            times(b["build_cpu_ms"]["mean"], build) if b else "—",
            f"≤ 40 ms: {at_most(build, 40)}",
        ))  # fmt: skip
    return out


def _held(c: dict) -> str:
    last = c["steps"][-1] if c["steps"] else None
    lost = f", {last['no_feedback']} clicks lost" if last and last["no_feedback"] else ""
    at = f"; p95 {last['p95']} ms{lost} at {last['sessions']}" if last else ""
    return f"{c['held']} sessions ({c['ended']}{at})"


def capacity(r: dict) -> list[str]:
    app, base, cluster = r["app"], r["baseline"], r.get("cluster")
    out = [row("8. Capacity: most background sessions with the tab's p95 ≤ 100 ms, one process",
               _held(app), f"guide's example: {_held(base)}", times(app["held"], base["held"]),
               "")]  # fmt: skip
    if cluster:
        out.append(row("8. Capacity, scaled-out topology (2 replicas behind haproxy, jobs on "
                       "Dask)", _held(cluster), f"one app process: {_held(app)}",
                       f"{times(cluster['held'], app['held'])} (topology / one process)", ""))
    return out


ROWS = {
    "click_to_feedback": click_to_feedback, "burst": burst, "queue": queue,
    "bytes_per_update": bytes_per_update, "memory": memory, "loop_lag": loop_lag,
    "page_load": page_load, "capacity": capacity,
}  # fmt: skip
