"""Panel's async-callbacks seed, written the idiomatic Streamlit way.

Streamlit has no callbacks that outlive a run: every click reruns this script top to bottom
in the session's script thread. The idiom for "show a status, do slow work, update it" is a
placeholder (st.empty) written twice, with the slow work inline. The script runs in a plain
thread, not an event loop, so the wait is the blocking time.sleep(2) the Streamlit docs use
(awaiting would need asyncio.run(...) around it, which blocks the script thread just the same).
The per-session counter lives in st.session_state.

Run: streamlit run app.py --server.port PORT   (settings in .streamlit/config.toml)
"""

import time

import streamlit as st

if "clicks" not in st.session_state:
    st.session_state.clicks = 0

left, right = st.columns(2)
clicked = left.button("Click me!")
status = right.empty()

if clicked:
    st.session_state.clicks += 1
    n = st.session_state.clicks
    status.text(f"Running {n}")
    time.sleep(2)
    status.text(f"Finished {n}")
