"""Panel's async-callbacks seed, written the idiomatic Shiny for Python way.

In Shiny an async effect blocks its session's reactive flush until it returns, and outputs
are only sent at the end of a flush, so a plain async effect would never show "Running N".
The documented tool for a slow operation that must not block the session is an
ExtendedTask (@reactive.extended_task): the click effect sets "Running N" and invokes the
task; a second effect shows "Finished N" when the task's result arrives. N is the action
button's value, which counts clicks per session.

Run: shiny run app.py --host 127.0.0.1 --port PORT
"""

import asyncio

from shiny import App, reactive, render, ui

app_ui = ui.page_fixed(
    ui.div(
        ui.input_action_button("button", "Click me!"),
        ui.output_text("status", inline=True),
        style="display: flex; gap: 1em; align-items: center;",
    ),
    title="async callbacks",
)


def server(input, output, session):
    message = reactive.value("")

    @reactive.extended_task
    async def sleep_then(n):
        await asyncio.sleep(2)
        return n

    @reactive.effect
    @reactive.event(input.button)
    def _start():
        n = input.button()
        message.set(f"Running {n}")
        sleep_then.invoke(n)

    @reactive.effect
    def _finish():
        message.set(f"Finished {sleep_then.result()}")

    @render.text
    def status():
        return message()


app = App(app_ui, server)
