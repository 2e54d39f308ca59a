"""Run by `panel serve --setup app/server_setup.py` once per server process, before it serves
(with --num-procs N: in each process, after the fork). It installs the process's runtime; see
app/runtime.py for its life."""

from app import runtime

runtime.install()
