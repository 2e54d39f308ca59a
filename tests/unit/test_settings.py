"""Settings come from the environment, with defaults that work on a laptop."""

from __future__ import annotations

import pytest

from app.__main__ import serve_command
from app.registry import PAGES
from app.settings import Settings, SettingsError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.port, s.address, s.queue_workers) == (5006, "localhost", 2)
    assert (s.queue_max_waiting, s.queue_max_per_session) == (100, 20)
    assert s.websocket_origins() == ["localhost:5006"]
    assert s.blocking_demo is False and s.async_max_tasks == 50
    assert Settings.from_env({"BLOCKING_DEMO": "1"}).blocking_demo is True


def test_values_from_the_environment() -> None:
    s = Settings.from_env(
        {"PORT": "8080", "ADDRESS": "0.0.0.0", "QUEUE_WORKERS": "4", "LOG_LEVEL": "debug"}
    )
    assert (s.port, s.address, s.queue_workers, s.log_level) == (8080, "0.0.0.0", 4, "DEBUG")
    # Bound to every interface, the default origin is the local one; name others explicitly.
    assert s.websocket_origins() == ["localhost:8080"]
    s = Settings.from_env({"ALLOW_WEBSOCKET_ORIGIN": "example.org, example.org:443"})
    assert s.websocket_origins() == ["example.org", "example.org:443"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "http"}, "PORT must be an integer, got 'http'"),
        ({"QUEUE_WORKERS": "0"}, "QUEUE_WORKERS must be at least 1, got 0"),
        ({"STREAM_DELAY_SECONDS": "soon"}, "STREAM_DELAY_SECONDS must be a number"),
        ({"BLOCKING_DEMO": "maybe"}, "BLOCKING_DEMO must be 1/0, true/false"),
    ],
)
def test_bad_values_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_serve_command_serves_every_page_with_liveness_and_passes_flags_through() -> None:
    settings = Settings.from_env({"PORT": "5010"})
    args = serve_command(settings, ["--num-threads", "4"])
    assert args[:2] == ["panel", "serve"]
    for page in PAGES:
        assert str(page.script) in args
    assert args[args.index("--index") + 1] == "main"
    assert args[args.index("--port") + 1] == "5010"
    assert args[args.index("--address") + 1] == "localhost"
    assert args[args.index("--allow-websocket-origin") + 1] == "localhost:5010"
    assert "--liveness" in args
    assert args[args.index("--plugins") + 1] == "app.health"
    assert args[-2:] == ["--num-threads", "4"]


def test_readme_documents_every_variable() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [name for name in Settings.variables() if f"| `{name}` |" not in readme]
    assert missing == []
