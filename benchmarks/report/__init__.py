"""The report of a benchmark run: the table of figures 1 to 8 (rows per figure in rows.py),
figure 9's table of the peers (peers.py), the machine and command above them, and the plots
(plots.py)."""

from __future__ import annotations

from benchmarks.figures import FIGURES
from benchmarks.report.cells import row
from benchmarks.report.peers import table as peers_table
from benchmarks.report.plots import plots
from benchmarks.report.rows import ROWS

__all__ = ["markdown", "plots"]


def _rows(results: dict) -> list[str]:
    out = []
    for figure in FIGURES:
        r = results.get(figure.key)
        if r is None or figure.key not in ROWS:
            continue
        if "error" in r:
            out.append(row(f"{figure.number}. {figure.key}", f"not measured: {r['error']}",
                           "", "", ""))  # fmt: skip
            continue
        try:
            out += ROWS[figure.key](r)
        except (KeyError, TypeError, IndexError) as missing:  # a part that was not measured
            out.append(row(f"{figure.number}. {figure.key}", f"incomplete: {missing!r}",
                           "", "", ""))  # fmt: skip
    return out


def markdown(report: dict) -> str:
    runs = report.get("runs", 1)
    plan = report.get("plan", {})
    results = report["results"]
    lines = [
        f"Measured {report['date']} on {report['machine']}"
        + (" (quick mode)" if report["quick"] else "")
        + f"; {runs} run{'s' if runs != 1 else ''}, samples pooled"
        + (" (figures 8, 9 and the Dask rows: the first run only)" if runs > 1 else "")
        + f"; {report['minutes']} min; `{report.get('command', 'python -m benchmarks.run')}`."
        + " Ratio = the other / the app, or the app / the other where more is better"
        + " (above 1: the app is better).",
        "",
        "| Figure | App | Compared with | Ratio | Target |",
        "| --- | --- | --- | --- | --- |",
        *_rows(results),
    ]
    if "peers" in results and "error" not in results["peers"]:
        tabs = plan.get("peer_idle_tabs")
        lines += ["", f"Figure 9: clicks {plan.get('peer_clicks')} per condition; memory and "
                  f"threads per session from 1 to {tabs} idle tabs.", "",
                  *peers_table(results["peers"])]  # fmt: skip
    return "\n".join(lines) + "\n"
