"""Settings come from the environment, each declared once with its bounds; a value a component
would refuse stops the server at start-up with a clear message."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import param
import pytest

from app.__main__ import serve_command
from app.components.async_clicker import AsyncClicker
from app.components.job_panel import QueuePanel
from app.components.stream_plot import StreamingPlot
from app.registry import PAGES
from app.settings import Settings, SettingsError, bounds

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.port, s.address, s.queue_workers) == (5006, "localhost", 2)
    assert (s.queue_max_waiting, s.queue_max_per_session) == (100, 20)
    # Both loopback names reach a local server: neither is a dead page by default.
    assert s.websocket_origins() == ["localhost:5006", "127.0.0.1:5006"]
    assert s.blocking_demo is False and s.async_max_tasks == 50


def test_values_from_the_environment() -> None:
    s = Settings.from_env(
        {"PORT": "8080", "ADDRESS": "0.0.0.0", "QUEUE_WORKERS": "4", "LOG_LEVEL": "debug",
         "BLOCKING_DEMO": "on"}
    )  # fmt: skip
    assert (s.port, s.address, s.queue_workers, s.log_level) == (8080, "0.0.0.0", 4, "DEBUG")
    assert s.blocking_demo is True
    assert s.websocket_origins() == ["localhost:8080", "127.0.0.1:8080"]
    s = Settings.from_env({"ALLOW_WEBSOCKET_ORIGIN": "example.org, example.org:443"})
    assert s.websocket_origins() == ["example.org", "example.org:443"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "http"}, "PORT=http is not an integer"),
        ({"QUEUE_WORKERS": "0"}, "QUEUE_WORKERS=0 is out of range: allowed 1 to 64"),
        ({"STREAM_ROLLOVER": "200000"}, "STREAM_ROLLOVER=200000 is out of range: allowed "
                                        "10 to 100,000"),
        ({"STREAM_DELAY_SECONDS": "soon"}, "STREAM_DELAY_SECONDS=soon is not a number"),
        ({"BLOCKING_DEMO": "maybe"}, "BLOCKING_DEMO=maybe is not a yes/no value"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL=loud is not one of DEBUG, INFO, WARNING, ERROR"),
    ],
)  # fmt: skip
def test_bad_values_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env)
    assert str(error.value).startswith(message)


def test_every_numeric_setting_has_bounds_and_a_doc() -> None:
    for f in fields(Settings):
        assert f.metadata["doc"], f.name
        if f.type in ("int", "float"):
            low, high = bounds(f.name)
            assert low is not None and high is not None, f.name
            assert low <= f.default <= high, f.name


@pytest.mark.parametrize(
    ("component", "parameter", "setting"),
    [
        (StreamingPlot, "rollover", "stream_rollover"),
        (StreamingPlot, "delay", "stream_delay_seconds"),
        (StreamingPlot, "points", "stream_points_per_click"),
        (StreamingPlot, "live_points", "stream_points_per_click"),
        (StreamingPlot, "max_pending", "stream_max_pending"),
        (AsyncClicker, "duration", "async_task_seconds"),
        (AsyncClicker, "max_tasks", "async_max_tasks"),
        (QueuePanel, "item_seconds", "queue_item_seconds"),
    ],
)
def test_components_take_their_bounds_from_the_settings(
    component: type[param.Parameterized], parameter: str, setting: str
) -> None:
    assert component.param[parameter].bounds == bounds(setting)


def test_a_setting_out_of_bounds_stops_the_server_at_start_up() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "STREAM_ROLLOVER": "200000"},
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "configuration error: STREAM_ROLLOVER=200000 is out of range: allowed 10 to 100,000"
    )


def test_serve_command_serves_every_page_with_its_runtime_and_passes_flags_through() -> None:
    settings = Settings.from_env({"PORT": "5010"})
    args = serve_command(settings, ["--num-threads", "4"])
    assert args[:2] == ["panel", "serve"]
    for page in PAGES:
        assert str(page.script) in args
    assert args[args.index("--index") + 1] == "home"
    assert args[args.index("--port") + 1] == "5010"
    assert args[args.index("--address") + 1] == "localhost"
    origins = [args[i + 1] for i, a in enumerate(args) if a == "--allow-websocket-origin"]
    assert origins == ["localhost:5010", "127.0.0.1:5010"]
    assert args[args.index("--setup") + 1].endswith("app/server_setup.py")
    assert "--liveness" in args
    assert args[args.index("--plugins") + 1] == "app.server.plugin"
    assert args[args.index("--session-ids") + 1] == "signed"
    assert args[-2:] == ["--num-threads", "4"]


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.variables() if f"| `{name}` |" not in readme]
    assert missing == []
