"""Baseline for the benchmarks: the guide's threaded-queue example as it stands in the guide.

Kept verbatim on purpose (a new polling thread per session, never stopped); do not serve it to
real users. It is started only by the benchmark scripts, beside the app, by the same panel serve.
"""

import threading
import time

import panel as pn

c = threading.Condition()

button = pn.widgets.Button(name="Click to launch")
text = pn.widgets.StaticText()

queue = []


def callback():
    global queue
    while True:
        c.acquire()
        for i, _q in enumerate(queue):
            text.value = f"Processing item {i+1} of {len(queue)} items in queue."
            time.sleep(2)
        queue.clear()
        text.value = "Queue empty"
        c.release()
        time.sleep(1)


thread = threading.Thread(target=callback)
thread.start()


def on_click(event):
    queue.append(event)


button.on_click(on_click)
pn.Row(button, text).servable()
