"""The benchmarks' protocol client drives real sessions: its clicks and widget changes reach
the app as a browser's would, without Nagle's delay, and what the app sends back is counted,
session by session (benchmarks/protocol_client.py, benchmarks/load.py)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter

from benchmarks.figures.latency import mix
from benchmarks.load import Activity, BackgroundLoad
from benchmarks.protocol_client import ProtocolSession
from tests.support.loops import run_async
from tests.support.serving import Served


def test_protocol_clicks_get_the_seed_feedback(server: Served) -> None:
    clicking = Activity("/async_callbacks", "Click me!", every_ms=300, watch="Running", clicks=3)
    with BackgroundLoad(server.url, [clicking, clicking]) as load:
        totals = load.wait_for(lambda t: t["/async_callbacks"]["watched"] >= 6, timeout=20)
    assert totals["/async_callbacks"]["sessions"] == 2
    assert totals["/async_callbacks"]["actions"] == 6
    assert totals["/async_callbacks"]["errors"] == 0
    assert totals["/async_callbacks"]["watched_each"] == [3, 3]  # what each session received


def test_the_benchmark_load_streams_and_clicks(server: Served) -> None:
    # Figure 1's background: one session clicking, one streaming in Live mode at 1 update/s.
    with BackgroundLoad(server.url, mix("app", 2)) as load:
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


def test_the_websocket_sends_without_nagles_delay(server: Served) -> None:
    async def nodelay() -> int:
        session = ProtocolSession(server.url, "/async_callbacks")
        await session.open()
        try:
            sock = session._ws.protocol.stream.socket
            return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            await session.close()

    assert run_async(nodelay)


def test_visitors_come_and_go_at_a_steady_rate_from_their_own_addresses(server: Served) -> None:
    with BackgroundLoad(server.url, [], spread=True) as load:
        load.start_churn(per_second=5, lifetime=0.3, activities=[Activity("/async_callbacks")])
        time.sleep(1.0)  # one second of visitors
        visits = load.stop_churn()
    assert 3 <= visits["opened"] <= 7
    assert visits["closed"] == visits["opened"] and visits["failed"] == 0


def test_an_applied_change_gets_no_reply_and_a_refused_one_an_error(server: Served) -> None:
    async def replies() -> Counter:
        session = ProtocolSession(server.url, "/bokeh_streaming")
        await session.open()
        try:
            slider = session.model_id(title="Updates per second")
            for value in (3, "not a number"):  # applied, then refused
                await session.send_events(
                    [{"kind": "ModelChanged", "model": {"id": slider}, "attr": "value",
                      "new": value}]
                )  # fmt: skip
            async def refused() -> None:
                while not session.counts.kinds["ERROR"]:
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(refused(), timeout=10)
            return session.counts.kinds
        finally:
            await session.close()

    kinds = run_async(replies)
    # Replies go out in the order the messages came: an OK for the first would be here.
    assert kinds["OK"] == 0 and kinds["ERROR"] == 1
