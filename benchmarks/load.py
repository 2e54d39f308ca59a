"""Background load for the benchmarks: many protocol-level sessions (benchmarks.protocol_client),
opened and driven on an event loop of their own, in a thread of the benchmark process.

A session's `Activity` says what it does (a page, a button clicked every so often, widget
changes first). `BackgroundLoad` opens them one at a time, keeps them acting until stopped, can
replace some (`churn`) or keep visitors coming and going at a steady rate (`start_churn`), and
reports what every session sent and received, so a load that silently stopped shows.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.protocol_client import ProtocolSession


@dataclass(frozen=True)
class Activity:
    """What a background session does: on `path`, after the `setup` changes (each given as
    (attributes that find the model, attribute, new value)), click `label` every `every_ms`,
    `clicks` times in all (None: until stopped); count server messages carrying `watch`.
    `label` may name several buttons: each click then picks one of them at random."""

    path: str
    label: str | tuple[str, ...] | None = None
    every_ms: int = 1000
    watch: str | None = None
    setup: tuple[tuple[dict, str, Any], ...] = ()
    clicks: int | None = None


def loopback_address(k: int) -> str:
    """The k-th of many loopback addresses (127.0.1.2 on), one per simulated visitor."""
    return f"127.0.{1 + k // 250}.{2 + k % 250}"


async def _drive(session: ProtocolSession, activity: Activity, stop: asyncio.Event) -> None:
    try:
        await _act(session, activity, stop)
    except Exception as exc:  # kept in the counts, shown in the results
        session.counts.errors.append(f"stopped acting: {exc!r}")


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`, or less if `stop` is set meanwhile; whether it was."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        return False
    return True


async def _act(session: ProtocolSession, activity: Activity, stop: asyncio.Event) -> None:
    for attributes, attr, value in activity.setup:
        await session.change(session.model_id(**attributes), attr, value)
    if activity.label is None:
        await stop.wait()
        return
    # Sessions start at random phases, as real visitors would.
    delay = random.uniform(0, activity.every_ms / 1000)
    clicks = 0
    while activity.clicks is None or clicks < activity.clicks:
        if await _sleep_unless(stop, delay):
            return
        label = activity.label
        await session.click(label if isinstance(label, str) else random.choice(label))
        clicks += 1
        delay = activity.every_ms / 1000
    await stop.wait()


class BackgroundLoad:
    """Sessions opened and driven over the protocol until `stop()` (or the end of a `with`
    block) closes them. With `spread`, each session speaks from a loopback address of its own
    (`loopback_address`), as distinct visitors behind a balancer would."""

    def __init__(self, base_url: str, activities: list[Activity], spread: bool = False) -> None:
        self.base_url = base_url.replace("localhost", "127.0.0.1") if spread else base_url
        self.spread = spread
        self.activities: list[Activity] = []
        self.sessions: list[ProtocolSession] = []
        self.visits = {"opened": 0, "closed": 0, "failed": 0}  # start_churn's visitors
        self._first = activities
        self._opened = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="load", daemon=True)
        self._stop: asyncio.Event | None = None
        self._drivers: list[asyncio.Future] = []
        self._retired: list[tuple[ProtocolSession, Activity]] = []  # closed by churn
        self._churning: asyncio.Event | None = None
        self._churn_tasks: set[asyncio.Future] = set()

    def __enter__(self) -> BackgroundLoad:
        self._thread.start()
        try:
            self.add(self._first)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self, coroutine, timeout: float = 900) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=timeout)

    def _session(self, activity: Activity) -> ProtocolSession:
        source = loopback_address(self._opened) if self.spread else None
        self._opened += 1
        return ProtocolSession(self.base_url, activity.path, activity.watch, source=source)

    def add(self, activities: list[Activity]) -> None:
        """Open more sessions (returns once they are all connected and acting)."""
        self._run(self._open(activities))

    async def _open(self, activities: list[Activity]) -> None:
        if self._stop is None:
            self._stop = asyncio.Event()
        # One at a time: every page load is a full render on the server, and each session must
        # connect before the server discards it as unused.
        for activity in activities:
            session = self._session(activity)
            await session.open()
            self.sessions.append(session)
            self.activities.append(activity)
            self._drivers.append(asyncio.ensure_future(_drive(session, activity, self._stop)))

    def churn(self, count: int, activities: list[Activity]) -> None:
        """Close `count` random sessions, as closed tabs do, and open one new session per
        activity given."""
        self._run(self._churn(count, activities))

    async def _churn(self, count: int, activities: list[Activity]) -> None:
        for _ in range(min(count, len(self.sessions))):
            i = random.randrange(len(self.sessions))
            session, activity = self.sessions.pop(i), self.activities.pop(i)
            self._drivers.pop(i).cancel()
            await session.close()
            self._retired.append((session, activity))
        await self._open(activities)

    # -- visitors coming and going -------------------------------------------------------------
    def start_churn(self, per_second: float, lifetime: float, activities: list[Activity]) -> None:
        """From now until `stop_churn`, open `per_second` new sessions a second (the given
        activities in turn), each closed `lifetime` seconds after it connected."""
        self._run(self._start_churn(per_second, lifetime, activities))

    async def _start_churn(self, per_second: float, lifetime: float, activities: list) -> None:
        self._churning = asyncio.Event()
        self._churn_tasks.add(
            asyncio.ensure_future(self._churn_loop(per_second, lifetime, activities))
        )

    async def _churn_loop(self, per_second: float, lifetime: float, activities: list) -> None:
        started, k = self._loop.time(), 0
        while not self._churning.is_set():
            task = asyncio.ensure_future(self._visit(activities[k % len(activities)], lifetime))
            self._churn_tasks.add(task)
            task.add_done_callback(self._churn_tasks.discard)
            k += 1
            if await _sleep_unless(self._churning, started + k / per_second - self._loop.time()):
                return

    async def _visit(self, activity: Activity, lifetime: float) -> None:
        session = self._session(activity)
        try:
            await session.open()
        except Exception:
            self.visits["failed"] += 1
            return
        self.visits["opened"] += 1
        await _sleep_unless(self._churning, lifetime)
        await session.close()
        self.visits["closed"] += 1

    def stop_churn(self) -> dict:
        """Stop opening visitors, close those still open; how many opened, closed, failed."""
        self._run(self._stop_churn())
        return dict(self.visits)

    async def _stop_churn(self) -> None:
        if self._churning is not None:
            self._churning.set()
            await asyncio.gather(*list(self._churn_tasks), return_exceptions=True)

    # -- waiting and totals --------------------------------------------------------------------
    def wait_for(self, condition: Callable[[dict], bool], timeout: float = 60.0) -> dict:
        """Return the totals once `condition(totals)` holds; TimeoutError after `timeout` s."""

        async def until() -> dict:
            while not condition(totals := self.totals()):
                await asyncio.sleep(0.05)
            return totals

        future = asyncio.run_coroutine_threadsafe(until(), self._loop)
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"not reached within {timeout} s: {self.totals()}") from None

    def wait_for_actions(self, count: int, timeout: float = 60.0) -> None:
        """Return once the sessions have sent `count` clicks or changes in all."""
        self.wait_for(lambda totals: sum(t["actions"] for t in totals.values()) >= count, timeout)

    async def _close(self) -> None:
        await self._stop_churn()
        if self._stop is None:
            return
        self._stop.set()
        await asyncio.gather(*self._drivers, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)

    def stop(self) -> dict:
        """Close every session; what they sent and received."""
        if self._thread.is_alive():
            self._run(self._close(), timeout=120)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        return self.totals()

    def totals(self) -> dict:
        """Per page: sessions, clicks and changes sent, messages received and those carrying
        the activity's `watch` text (in all, and for each session), and errors."""
        out: dict[str, dict] = {}
        pairs = [*zip(self.sessions, self.activities, strict=False), *self._retired]
        for session, activity in pairs:
            row = out.setdefault(activity.path, {
                "sessions": 0, "actions": 0, "messages": 0, "watched": 0, "errors": 0,
                "messages_each": [], "watched_each": [],
            })  # fmt: skip
            counts = session.counts
            row["sessions"] += 1
            row["actions"] += counts.actions
            row["messages"] += counts.messages
            row["watched"] += counts.watched
            row["errors"] += len(counts.errors)
            row["messages_each"].append(counts.messages)
            row["watched_each"].append(counts.watched)
        return out
