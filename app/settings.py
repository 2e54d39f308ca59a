"""Every setting, declared once: its default, its bounds and what it is for.

A setting is read from the environment variable of its name upper-cased, by one loop over the
fields of `Settings`. Its bounds are declared beside it and are the only ones: the components take
their `param` bounds from here (`param_range`), so a value the page would refuse is refused at
start-up instead, with the variable, the value and the allowed range in the message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, get_type_hints

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """An environment variable holds a value the app cannot use."""


def setting(
    default: Any,
    doc: str,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A field of `Settings`: default, meaning and allowed values, in one place."""
    return field(default=default, metadata={"doc": doc, "low": low, "high": high,
                                            "choices": choices})  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """Everything the app can be configured with. Environment variable = field name upper-cased."""

    # -- serving ---------------------------------------------------------------------------------
    port: int = setting(5006, "Port to serve on.", 0, 65535)
    address: str = setting("localhost", "Address to bind (`0.0.0.0` in the Docker image).")
    allow_websocket_origin: str = setting(
        "", "Comma-separated `host[:port]` origins allowed to open the websocket; empty means "
        "both loopback names at PORT (`localhost:PORT,127.0.0.1:PORT`)."
    )
    log_level: str = setting(
        "INFO", "Level of the app's log lines.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )  # fmt: skip
    # -- the job queue ---------------------------------------------------------------------------
    queue_workers: int = setting(2, "Worker threads shared by every session of a process.", 1, 64)
    queue_max_waiting: int = setting(
        100, "Most jobs waiting in this process's queue; more are refused with a message.", 1,
        10_000,
    )  # fmt: skip
    queue_max_per_session: int = setting(
        20, "Most unfinished jobs one session may have.", 1, 1000
    )
    queue_item_seconds: float = setting(2.0, "How long one queue item works.", 0.0, 600.0)
    # -- the Dask cluster (optional) -----------------------------------------------------------
    dask_scheduler_address: str = setting(
        "", "When set (e.g. `tcp://scheduler:8786`), jobs run on that Dask cluster instead of "
        "this process's threads."
    )
    cluster_max_jobs: int = setting(
        200, "On Dask: most unfinished jobs of every replica together; give every replica the "
        "same value.", 1, 100_000,
    )  # fmt: skip
    # -- the async page --------------------------------------------------------------------------
    async_task_seconds: float = setting(2.0, "How long each async click awaits.", 0.0, 600.0)
    async_max_tasks: int = setting(50, "Most async tasks one session may have running.", 1, 1000)
    blocking_demo: bool = setting(
        False, "Allow the async page's blocking button, which freezes every session for 1 s."
    )
    # -- the streaming page ----------------------------------------------------------------------
    stream_delay_seconds: float = setting(1.0, "Delay from click to streamed points.", 0.0, 60.0)
    stream_points_per_click: int = setting(5, "Points streamed per click.", 1, 500)
    stream_max_pending: int = setting(
        20, "Most clicks of one session waiting for their points.", 1, 1000
    )
    stream_rollover: int = setting(2000, "Most points the streaming plot keeps.", 10, 100_000)
    # -- the process's life ----------------------------------------------------------------------
    replica_name: str = setting(
        "", "Name this process gives in `/health` and to the Dask cluster; keep it stable across "
        "restarts (default: host name and port, and the process index with --num-procs)."
    )
    session_linger_seconds: float = setting(
        1.0, "A session ends this long after its tab's websocket closed (its jobs, tasks and "
        "streams are then cancelled).", 0.0, 60.0,
    )  # fmt: skip
    session_connect_seconds: float = setting(
        15.0, "A session whose page never connects ends this long after the page request.",
        2.0, 300.0,
    )  # fmt: skip
    shutdown_grace_seconds: float = setting(
        3.0, "On SIGTERM, how long running jobs may go on before they are cancelled.", 0.0, 60.0
    )
    # -- limits on what visitors can do ----------------------------------------------------------
    max_sessions: int = setting(
        200, "Most sessions (open or still loading) one server process holds; more page "
        "requests get a \"server busy\" page (HTTP 503).", 1, 100_000,
    )  # fmt: skip
    client_sessions_per_minute: float = setting(
        60.0, "New sessions one client address may open a minute, after a burst of "
        "CLIENT_SESSION_BURST.", 1.0, 100_000.0,
    )  # fmt: skip
    client_session_burst: int = setting(
        20, "New sessions one client address may open at once.", 1, 100_000
    )
    failed_login_burst: int = setting(
        5, "Failed logins one client address may make at once (with --basic-auth).", 1, 1000
    )
    failed_logins_per_minute: float = setting(
        5.0, "Failed logins one client address may make a minute, after the burst.", 0.1, 1000.0
    )
    # -- health ----------------------------------------------------------------------------------
    health_token: str = setting(
        "", "When set, `/health` shows its figures to `Authorization: Bearer <token>` (and to "
        "logged-in users); everyone else gets only the status."
    )
    health_lag_threshold_ms: float = setting(
        500.0, "`/health` says \"degraded\" while the event loop's lag p99 is over this.", 1.0,
        60_000.0,
    )  # fmt: skip

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from `env` (the process environment by default)."""
        env = os.environ if env is None else env
        types = get_type_hints(cls)
        values = {}
        for f in fields(cls):
            raw = env.get(f.name.upper(), "").strip()
            if raw:
                values[f.name] = _parse(f, types[f.name], raw)
        return cls(**values)

    def websocket_origins(self) -> list[str]:
        """Origins allowed to open the websocket: ALLOW_WEBSOCKET_ORIGIN, or else the names this
        machine is reached by locally (both loopback names, or the address it binds)."""
        if self.allow_websocket_origin:
            return [o.strip() for o in self.allow_websocket_origin.split(",") if o.strip()]
        if self.address in ("", "0.0.0.0", "::", "localhost", "127.0.0.1"):
            return [f"localhost:{self.port}", f"127.0.0.1:{self.port}"]
        return [f"{self.address}:{self.port}"]

    @staticmethod
    def variables() -> list[str]:
        """The environment variables read, for documentation and tests."""
        return [f.name.upper() for f in fields(Settings)]


def _parse(f: Field, kind: type, raw: str) -> Any:
    name, meta = f.name.upper(), f.metadata
    if kind is bool:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise SettingsError(f"{name}={raw} is not a yes/no value (use 1/0, true/false, on/off)")
    if kind is str:
        choices = meta["choices"]
        if choices and raw.upper() not in choices:
            raise SettingsError(f"{name}={raw} is not one of {', '.join(choices)}")
        return raw.upper() if choices else raw
    try:
        value = kind(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise SettingsError(f"{name}={raw} is not {noun}") from None
    low, high = meta["low"], meta["high"]
    if (low is not None and value < low) or (high is not None and value > high):
        raise SettingsError(f"{name}={raw} is out of range: allowed {_range(low, high)}")
    return value


def _range(low: float | None, high: float | None) -> str:
    def show(n: float) -> str:
        return f"{n:,g}" if isinstance(n, float) else f"{n:,}"

    if high is None:
        return f"at least {show(low)}"
    return f"{show(low)} to {show(high)}"


def _field(name: str) -> Field:
    for f in fields(Settings):
        if f.name == name:
            return f
    raise KeyError(f"no setting named {name!r}")


def bounds(name: str) -> tuple[Any, Any]:
    """The allowed range of a setting, for a component's `param` bounds."""
    meta = _field(name).metadata
    return meta["low"], meta["high"]


def param_range(name: str) -> dict[str, Any]:
    """`default`, `bounds` and `doc` for the component parameter a setting feeds, so a
    parameter and its setting cannot drift apart."""
    f = _field(name)
    assert f.default is not MISSING
    return {"default": f.default, "bounds": bounds(name), "doc": f.metadata["doc"]}
