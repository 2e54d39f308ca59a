"""What a hostile visitor cannot do: grow the server's memory through its plot data, flood it
with page requests, take over another's session, fill the log or learn the server's internals
from error replies, freeze it with the blocking demo, or guess a password at full speed.

Where a browser cannot do it, a protocol-level client (benchmarks/protocol_client.py) speaks the
Bokeh websocket protocol as a forged browser would. Each test starts a server of its own (with
the shipped settings unless it says otherwise), so that its flood harms no other test."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import SERVER_ENV, assert_clean
from helpers import open_page, wait_until
from playwright.sync_api import Browser, expect
from tornado.websocket import WebSocketClosedError

from app.server.protocol import REPLY
from benchmarks.protocol_client import ProtocolSession
from tests.support.loops import run_async
from tests.support.serving import Served, app_command, free_port, start, stop

pytestmark = pytest.mark.own_server


@contextlib.contextmanager
def app_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    port = free_port()
    server = start(app_command(list(args)), port, tmp_path / f"server-{port}.log",
                   {**SERVER_ENV, **(env or {})})  # fmt: skip
    try:
        yield server
    finally:
        stop(server)


def session_id_of(token: str) -> str:
    """The session id inside a Bokeh session token (its payload is base64 JSON)."""
    payload = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["session_id"]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read().decode()


def streamed(model_id: str, points: int) -> dict:
    """A ColumnsStreamed patch as BokehJS would encode it, with `points` new points."""
    column = list(range(points))
    return {
        "kind": "ColumnsStreamed", "model": {"id": model_id}, "attr": "data",
        "data": {"type": "map", "entries": [["x", column], ["y", column]]}, "rollover": None,
    }  # fmt: skip


@pytest.mark.parametrize(("path", "source"), [("/bokeh_streaming", "stream-source"),
                                              ("/home", "lag-source")])  # fmt: skip
def test_a_client_cannot_grow_a_server_owned_source(tmp_path: Path, path: str, source: str) -> None:
    with app_server(tmp_path) as server:
        process = psutil.Process(server.pid)

        async def attack() -> list[str]:
            session = ProtocolSession(server.url, path)
            await session.open()
            rss_before = process.memory_info().rss
            target = session.model_id(name=source)
            for _ in range(8):  # about 2 MB a message
                await session.send_events([streamed(target, 100_000)])
            # A click (or a tick) afterwards: the server still works for this session.
            await asyncio.sleep(1.0)  # lets the server read what was sent before measuring
            grown = process.memory_info().rss - rss_before
            await session.close()
            return [f"{grown / 2**20:.1f}", *session.counts.errors]

        grown_mib, *errors = run_async(attack)
        # 8 x 100,000 points kept would be ~60 MiB; a refused message is freed at once.
        assert float(grown_mib) < 25, grown_mib
        log = server.log()
        assert log.count("a stream of points into a server-owned source") == 1  # once a minute
        assert errors == []
        assert_clean(log)


def test_page_request_floods_get_a_cheap_busy_page_and_others_still_get_in(
    tmp_path: Path, browser: Browser
) -> None:
    env = {"MAX_SESSIONS": "30", "CLIENT_SESSION_BURST": "5", "CLIENT_SESSIONS_PER_MINUTE": "30"}
    with app_server(tmp_path, "--use-xheaders", env=env) as server:
        flooder = {"X-Forwarded-For": "10.0.0.66"}
        answers: list[tuple[int, str | None]] = []
        stop_flood = threading.Event()

        def flood() -> None:
            while not stop_flood.is_set() and len(answers) < 400:
                status, headers, _ = get(f"{server.url}/async_callbacks", flooder)
                answers.append((status, headers.get("Retry-After")))

        loops = [threading.Thread(target=flood) for _ in range(4)]
        for loop in loops:
            loop.start()
        wait_until(lambda: len(answers), lambda n: n >= 100, 30, "the flood's requests")
        # Another visitor, meanwhile, gets in and is served.
        context = browser.new_context(base_url=server.url,
                                      extra_http_headers={"X-Forwarded-For": "10.0.0.7"})
        page = open_page(context.new_page(), "/async_callbacks")
        page.get_by_role("button", name="Click me!").click()
        expect(page.get_by_text("Running 1")).to_be_visible()
        stop_flood.set()
        for loop in loops:
            loop.join(30)
        admitted = sum(1 for status, _ in answers if status == 200)
        refused = [(s, retry) for s, retry in answers if s != 200]
        assert admitted <= 5 + 30  # the burst, and the rate over the flood's seconds at most
        assert refused and all(s == 503 and retry and int(retry) >= 1 for s, retry in refused)
        health = json.loads(get(f"{server.url}/health")[2])
        assert health["sessions"] <= 30
        log = server.log()
        # One line for the flooder's refusals, not one per request.
        assert log.count("refused from client 10.0.0.66") <= 2, log
        assert "503 GET" not in log
        context.close()
        assert_clean(log)


def test_a_full_server_says_so_and_is_not_ready(tmp_path: Path) -> None:
    with app_server(tmp_path, "--use-xheaders", env={"MAX_SESSIONS": "2"}) as server:
        for n in range(2):
            status, _, _ = get(f"{server.url}/async_callbacks", {"X-Forwarded-For": f"10.1.0.{n}"})
            assert status == 200
        status, headers, page = get(f"{server.url}/threaded_queue",
                                    {"X-Forwarded-For": "10.1.0.9"})  # fmt: skip
        assert (status, headers["Retry-After"]) == (503, "10")
        assert "this server has 2 sessions open, the most it takes" in page
        status, _, body = get(f"{server.url}/health")
        assert status == 503 and json.loads(body)["ready"] is False


def test_a_session_id_alone_opens_nothing_and_never_reaches_the_log(tmp_path: Path) -> None:
    from bokeh.util.token import generate_jwt_token
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    with app_server(tmp_path) as server:

        async def victim_and_attacker() -> tuple[str, str]:
            victim = ProtocolSession(server.url, "/threaded_queue")
            await victim.open()
            await victim.click("Click to launch")
            victim_id = session_id_of(victim.token)
            # A token made up around the victim's id, unsigned, as an attacker would make it.
            forged = generate_jwt_token(victim_id, secret_key=None, signed=False)
            ws_url = server.url.replace("http", "ws", 1) + "/threaded_queue/ws"
            try:
                ws = await websocket_connect(
                    HTTPRequest(ws_url, headers={"Origin": server.url}),
                    subprotocols=["bokeh", forged],
                )
                try:
                    outcome = f"read {await ws.read_message()!r}"
                finally:
                    ws.close()
            except (WebSocketClosedError, OSError) as refused:
                outcome = f"refused: {type(refused).__name__}"
            await victim.close()
            return victim_id, outcome

        victim_id, outcome = run_async(victim_and_attacker)
        # The forged token gets no session: the socket is refused, or closed before a word.
        assert outcome == "read None" or outcome.startswith("refused"), outcome
        status, _, _ = get(f"{server.url}/threaded_queue?bokeh-session-id={victim_id}")
        assert status == 403
        log = server.log()
        assert victim_id not in log and victim_id[:12] not in log
        assert re.search(r"job 1 \(io\) of session [0-9a-f]{8}: submitted", log)


def test_refused_messages_cost_one_log_line_and_reply_with_no_internals(tmp_path: Path) -> None:
    with app_server(tmp_path) as server:
        size_before = Path(server.log_path).stat().st_size

        async def garbage() -> list[str]:
            session = ProtocolSession(server.url, "/bokeh_streaming")
            await session.open()
            slider = session.model_id(title="Updates per second")
            for _ in range(2000):  # refused by Bokeh: not an integer
                await session.send_events([{"kind": "ModelChanged", "model": {"id": slider},
                                            "attr": "value", "new": "not a number"}])  # fmt: skip
            for _ in range(500):  # refused by the page: out of the parameter's bounds
                await session.send_events([{"kind": "ModelChanged", "model": {"id": slider},
                                            "attr": "value", "new": 10_000}])  # fmt: skip
            await session.click("Click me!")  # still served afterwards
            await asyncio.sleep(2)  # lets the server read what was sent before looking
            await session.close()
            return session.counts.errors

        errors = run_async(garbage)
        assert errors, "the wrong-type values were not refused"
        for content in errors:
            reply = json.loads(content + '"}' if not content.endswith("}") else content)
            assert reply.get("text") == REPLY and not reply.get("traceback")
        log = server.log()
        assert log.count("refused from session") <= 2
        assert Path(server.log_path).stat().st_size - size_before < 20_000
        assert "Traceback" not in log


def test_the_blocking_demo_is_bounded_and_says_it_freezes_everyone(
    tmp_path: Path, browser: Browser
) -> None:
    with app_server(tmp_path) as server:
        page = open_page(browser.new_context(base_url=server.url).new_page(), "/async_callbacks")
        warning = page.get_by_text(re.compile(r"freezes the server for every visitor"))
        expect(warning).to_be_visible()
        block = page.get_by_role("button", name="Block for 1 s")
        block.click()
        expect(page.get_by_text(re.compile(r"^Blocked the server for 1\.\d s$"))).to_be_visible()
        block.click()
        expect(page.get_by_text(re.compile(r"^Not now: this server may be frozen once every 10 s"))
               ).to_be_visible()  # fmt: skip
        page.context.close()


def test_health_details_need_the_login_or_the_token(tmp_path: Path) -> None:
    args = ("--basic-auth", "right-password", "--cookie-secret", "test-cookie-secret-0123456789")
    with app_server(tmp_path, *args, env={"HEALTH_TOKEN": "health-token-123"}) as server:
        status, _, body = get(f"{server.url}/health")
        assert status == 200 and json.loads(body) == {"status": "ok", "ready": True}
        status, _, body = get(f"{server.url}/health",
                              {"Authorization": "Bearer health-token-123"})  # fmt: skip
        assert status == 200 and {"pid", "versions", "rss_mib"} <= json.loads(body).keys()
        cookie = login(server, "right-password")[1]
        status, _, body = get(f"{server.url}/health", {"Cookie": cookie})
        assert status == 200 and "pid" in json.loads(body)


def test_failed_logins_are_throttled_per_address(tmp_path: Path) -> None:
    args = ("--basic-auth", "right-password", "--cookie-secret", "test-cookie-secret-0123456789")
    with app_server(tmp_path, *args) as server:
        statuses = [login(server, "wrong")[0] for _ in range(8)]
        assert statuses[:5] == [302] * 5  # back to the form, with an error
        assert set(statuses[5:]) == {429}
        assert login(server, "right-password")[0] == 429  # the address waits, whatever it sends
        assert server.log().count("a login with a wrong password") == 1


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(server: Served, password: str) -> tuple[int, str]:
    """POST the login form; the status and the cookies it set."""
    data = urllib.parse.urlencode({"username": "someone", "password": password}).encode()
    opener = urllib.request.build_opener(NoRedirect)
    try:
        answer = opener.open(urllib.request.Request(f"{server.url}/login", data=data), timeout=10)
    except urllib.error.HTTPError as refused:
        answer = refused
    with answer:
        cookies = "; ".join(c.split(";")[0] for c in answer.headers.get_all("Set-Cookie") or [])
        return answer.code, cookies


def test_a_component_file_url_imports_no_module_the_server_has_not_loaded(tmp_path: Path) -> None:
    with app_server(tmp_path) as server:
        # Panel's handler would import `this`, which prints the Zen of Python into the log.
        for module in ("this", "tkinter", "no.such.module") * 5:
            status, _, body = get(f"{server.url}/components/{module}/X/_css/a.css")
            assert status == 404 and "Traceback" not in body
        # The app's own components are served, also by a process that built no page yet.
        status, headers, body = get(
            f"{server.url}/components/app.components.text_line/TextLine/_bundle_path/text_line.js"
        )
        assert status == 200 and "export function render" in body
        assert "javascript" in headers["Content-Type"]
        log = server.log()
        assert "Zen of Python" not in log and "Traceback" not in log
        assert log.count("a component file of a module the server has not loaded") == 1
