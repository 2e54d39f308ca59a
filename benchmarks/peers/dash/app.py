"""Panel's async-callbacks seed, written the idiomatic Dash 4.4 way.

Dash's classic model is request/response: a callback's outputs reach the page only when the
callback returns, so one callback cannot show "Running N" and then "Finished N". Dash 4.2+
has WebSocket callbacks (FastAPI or Quart backend only): inside them `set_props` is pushed to
the page at once, while the callback runs. That is the documented way in this version for
progress updates from a long-running callback, so it is used here: an async callback sets
"Running N" with set_props, awaits asyncio.sleep(2), and returns "Finished N".
N is the button's own n_clicks, which lives in the page (one counter per browser tab).

Run: python -m uvicorn app:server --host 127.0.0.1 --port PORT   (cwd = this directory)
or   python app.py --port PORT   (Dash's app.run, which itself spawns that uvicorn child).
"""

import argparse
import asyncio
import os

from dash import Dash, Input, Output, callback, html, set_props

app = Dash(__name__, backend="fastapi", websocket_callbacks=True, title="async callbacks",
           health_endpoint="health")
server = app.server  # the FastAPI (ASGI) app, for uvicorn

app.layout = html.Div(
    [html.Button("Click me!", id="button"), html.Div(id="status")],
    style={"display": "flex", "gap": "1em", "alignItems": "center"},
)


@callback(Output("status", "children"), Input("button", "n_clicks"), prevent_initial_call=True)
async def run_async(n_clicks):
    set_props("status", {"children": f"Running {n_clicks}"})
    await asyncio.sleep(2)
    return f"Finished {n_clicks}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8050")))
    args = parser.parse_args()
    app.run(host="127.0.0.1", port=args.port, debug=False)
