"""What tests, the Docker smoke run and the benchmarks share: serving a command on a free port
(serving.py), the browser and the pages (browser.py), and bounded waits (waiting.py), as Panel
keeps `serve_component` and `wait_until` in panel/tests/util.py."""
