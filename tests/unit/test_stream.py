"""The random-walk source and the streaming component's rollover bound."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from app.components import stream_plot
from app.components.stream_plot import StreamingPlot
from app.core.stream import RandomWalk
from tests.support.loops import run_async


def test_batches_continue_x_by_one_and_y_from_the_last_point() -> None:
    walk = RandomWalk(seed=1)
    first = walk.next_batch(5)
    assert first["x"] == [1, 2, 3, 4, 5]
    second = walk.next_batch(3)
    assert second["x"] == [6, 7, 8]
    assert (walk.last_x, walk.last_y) == (8, second["y"][-1])
    steps = [b - a for a, b in zip([first["y"][-1], *second["y"]], second["y"], strict=False)]
    assert all(abs(step) < 6 for step in steps)  # unit normal steps, not jumps


def test_same_seed_same_walk() -> None:
    assert RandomWalk(seed=7).next_batch(4) == RandomWalk(seed=7).next_batch(4)


def test_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        RandomWalk().next_batch(0)


def clicks(plot: StreamingPlot, n: int) -> None:
    """Click n times at once, and wait until every click's points have been streamed."""

    async def body() -> None:
        await asyncio.gather(*(plot._stream(SimpleNamespace(new=k)) for k in range(1, n + 1)))
        # Each click hands its points to a step Panel schedules on the loop: let those run.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.gather(*others)

    run_async(body)


def test_plot_streams_points_per_click_and_keeps_at_most_rollover() -> None:
    plot = StreamingPlot(delay=0, points=5, rollover=12)
    source = plot._source
    clicks(plot, 1)
    assert source.data["x"] == [0, 1, 2, 3, 4, 5]
    clicks(plot, 3)
    assert len(source.data["x"]) == 12
    assert list(source.data["x"]) == list(range(9, 21))


def test_clicks_wait_together_and_only_the_streaming_step_holds_the_lock() -> None:
    plot = StreamingPlot(delay=0.2, points=5)
    waiting: list[int] = []

    async def body() -> None:
        tasks = [asyncio.ensure_future(plot._stream(SimpleNamespace(new=k))) for k in (1, 2, 3)]
        await asyncio.sleep(0.05)
        waiting.append(len(plot._waiting))
        waiting.append(len(plot._source.data["x"]))
        await asyncio.gather(*tasks)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.gather(*others)

    run_async(body)
    # All three clicks were waiting at once, before any points had been streamed.
    assert waiting == [3, 1]
    assert len(plot._source.data["x"]) == 16
    # Panel holds the document lock for a callback that carries `lock` (pn.io.with_lock): the
    # streaming step does, the click's wait does not.
    assert getattr(plot._stream_click_points, "lock", False) is True
    assert getattr(plot._stream, "lock", False) is False


def test_pending_clicks_are_bounded() -> None:
    plot = StreamingPlot(delay=5, max_pending=2)

    async def body() -> None:
        tasks = [asyncio.ensure_future(plot._stream(SimpleNamespace(new=k))) for k in (1, 2, 3)]
        await asyncio.sleep(0.05)
        assert len(plot._waiting) == 2
        assert plot.message == (
            "Click 3 streamed nothing: 2 clicks are waiting for their points, the most one "
            "session may have."
        )
        plot._session.close()  # the session ends: the waiting clicks stop
        await asyncio.gather(*tasks)

    run_async(body)
    assert plot._waiting == set() and plot._source.data["x"] == [0]


class FakeTicker:
    """Stands in for the PeriodicCallback start_ticker returns."""

    def __init__(self, callback, period: int) -> None:
        self.callback, self.period, self.running = callback, period, True

    def stop(self) -> None:
        self.running = False


@pytest.fixture
def tickers(monkeypatch: pytest.MonkeyPatch) -> list[FakeTicker]:
    made: list[FakeTicker] = []

    def start_ticker(callback, period: int) -> FakeTicker:
        made.append(FakeTicker(callback, period))
        return made[-1]

    monkeypatch.setattr(stream_plot, "start_ticker", start_ticker)
    return made


def test_live_mode_starts_one_ticker_follows_the_rate_and_stops(tickers) -> None:
    plot = StreamingPlot(rate=4, live_points=3)
    plot.live = True
    plot.live = True  # no second ticker
    assert len(tickers) == 1 and tickers[0].period == 250
    run_async(tickers[0].callback)
    assert plot._source.data["x"] == [0, 1, 2, 3] and plot.streamed == 4
    plot.rate = 20
    assert tickers[0].period == 50
    plot.live = False
    assert not tickers[0].running and plot._ticker is None


def test_the_live_stream_stops_when_the_session_ends(tickers) -> None:
    plot = StreamingPlot(live=False)
    plot.live = True
    plot._session.close()
    assert not tickers[0].running


def test_a_smaller_rollover_applies_at_once() -> None:
    plot = StreamingPlot(delay=0, points=5, rollover=100)
    clicks(plot, 4)
    plot.rollover = 10
    assert list(plot._source.data["x"]) == list(range(11, 21))
    assert plot.shown == "Showing the last 10 of 21 points"
