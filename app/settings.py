"""One settings object, read from the environment, with defaults that work on a laptop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


class SettingsError(ValueError):
    """An environment variable holds a value the app cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1/0, true/false, yes/no or on/off, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the app can be configured with. Environment variable = field name upper-cased."""

    port: int = 5006
    address: str = "localhost"
    # Comma-separated host[:port] list for --allow-websocket-origin; empty means address:port.
    allow_websocket_origin: str = ""
    log_level: str = "INFO"
    # Threaded queue: worker threads shared by every session, and the queue's bounds.
    queue_workers: int = 2
    queue_max_waiting: int = 100
    queue_max_per_session: int = 20
    # Seconds one "I/O wait" item takes, as in Panel's guide.
    queue_item_seconds: float = 2.0
    # Async callbacks page: how long each click's task awaits.
    async_task_seconds: float = 2.0
    async_max_tasks: int = 50  # tasks one session may have running at once
    # Bokeh streaming page: delay before a click's points arrive, and the rollover bound.
    stream_delay_seconds: float = 1.0
    stream_points_per_click: int = 5
    stream_rollover: int = 2000
    # Health: /health says "degraded" when the event loop's lag p99 passes this.
    health_lag_threshold_ms: float = 500.0
    # The async page's blocking button freezes every session for a second: off unless enabled.
    blocking_demo: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            port=_int(env, "PORT", cls.port, minimum=0),
            address=env.get("ADDRESS", "").strip() or cls.address,
            allow_websocket_origin=env.get("ALLOW_WEBSOCKET_ORIGIN", "").strip(),
            log_level=(env.get("LOG_LEVEL", "").strip() or cls.log_level).upper(),
            queue_workers=_int(env, "QUEUE_WORKERS", cls.queue_workers, minimum=1),
            queue_max_waiting=_int(env, "QUEUE_MAX_WAITING", cls.queue_max_waiting, minimum=1),
            queue_max_per_session=_int(
                env, "QUEUE_MAX_PER_SESSION", cls.queue_max_per_session, minimum=1
            ),
            queue_item_seconds=_float(env, "QUEUE_ITEM_SECONDS", cls.queue_item_seconds, 0.0),
            async_task_seconds=_float(env, "ASYNC_TASK_SECONDS", cls.async_task_seconds, 0.0),
            async_max_tasks=_int(env, "ASYNC_MAX_TASKS", cls.async_max_tasks, minimum=1),
            stream_delay_seconds=_float(
                env, "STREAM_DELAY_SECONDS", cls.stream_delay_seconds, 0.0
            ),
            stream_points_per_click=_int(
                env, "STREAM_POINTS_PER_CLICK", cls.stream_points_per_click, minimum=1
            ),
            stream_rollover=_int(env, "STREAM_ROLLOVER", cls.stream_rollover, minimum=10),
            health_lag_threshold_ms=_float(
                env, "HEALTH_LAG_THRESHOLD_MS", cls.health_lag_threshold_ms, 1.0
            ),
            blocking_demo=_bool(env, "BLOCKING_DEMO", cls.blocking_demo),
        )

    def websocket_origins(self) -> list[str]:
        """Origins allowed to open the websocket; by default only the address we serve on."""
        if self.allow_websocket_origin:
            return [o.strip() for o in self.allow_websocket_origin.split(",") if o.strip()]
        host = "localhost" if self.address in ("", "0.0.0.0", "::") else self.address
        return [f"{host}:{self.port}"]

    @staticmethod
    def variables() -> list[str]:
        """The environment variables read, for documentation and tests."""
        return [f.name.upper() for f in fields(Settings)]
