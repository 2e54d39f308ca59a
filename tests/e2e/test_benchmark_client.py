"""The benchmarks' protocol client drives real sessions: its clicks and widget changes reach
the app as a browser's would, and what the app sends back is counted (benchmarks/)."""

from __future__ import annotations

from benchmarks.figures import background_activities
from benchmarks.protocol_client import Activity, BackgroundLoad
from tests.support.serving import Served


def test_protocol_clicks_get_the_seed_feedback(server: Served) -> None:
    clicking = Activity("/async_callbacks", "Click me!", every_ms=300, watch="Running", clicks=3)
    with BackgroundLoad(server.url, [clicking, clicking]) as load:
        totals = load.wait_for(lambda t: t["/async_callbacks"]["watched"] >= 6, timeout=20)
    assert totals["/async_callbacks"]["sessions"] == 2
    assert totals["/async_callbacks"]["actions"] == 6
    assert totals["/async_callbacks"]["errors"] == 0


def test_the_benchmark_load_streams_and_clicks(server: Served) -> None:
    # Figure 1's background: one session clicking, one streaming in Live mode at 1 update/s.
    with BackgroundLoad(server.url, background_activities("app", 2)) as load:
        totals = load.wait_for(
            lambda t: t["/bokeh_streaming"]["watched"] >= 2 and t["/async_callbacks"]["watched"],
            timeout=20,
        )
    assert totals["/bokeh_streaming"]["actions"] == 3  # rate, points per update, Live
    assert not any(row["errors"] for row in totals.values())


def test_a_missing_button_is_an_error_not_a_silent_idle_session(server: Served) -> None:
    wrong = Activity("/async_callbacks", "No such button", every_ms=100, clicks=1)
    with BackgroundLoad(server.url, [wrong]) as load:
        totals = load.wait_for(lambda t: t["/async_callbacks"]["errors"] >= 1, timeout=10)
    assert totals["/async_callbacks"]["actions"] == 0
