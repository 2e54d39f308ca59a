"""Panel's async-callbacks seed, written the idiomatic Gradio 6 way.

A Blocks app: the button's click listener is an async generator; each `yield` is pushed to
the page at once (through Gradio's queue), so "Running N" shows before the await and
"Finished N" after it. The per-session click counter lives in gr.State (one per browser tab).
All Gradio defaults are kept (queue on, concurrency_limit=1 per listener, trigger_mode="once"
for .click): see REPORT.md for what they do to quick clicks.

Run: python app.py --port PORT   (or PORT=... python app.py); serves on 127.0.0.1.
"""

import argparse
import asyncio
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry, no version check

import gradio as gr


async def run_async(clicks: int):
    n = clicks + 1
    yield n, f"Running {n}"
    await asyncio.sleep(2)
    yield n, f"Finished {n}"


with gr.Blocks(analytics_enabled=False, title="async callbacks") as demo:
    clicks = gr.State(0)
    with gr.Row():
        button = gr.Button("Click me!")
        text = gr.Markdown(elem_id="status")
    button.click(run_async, inputs=clicks, outputs=[clicks, text])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "7860")))
    args = parser.parse_args()
    demo.launch(
        server_name="127.0.0.1",
        server_port=args.port,
        share=False,
        ssr_mode=False,
        inbrowser=False,
    )
