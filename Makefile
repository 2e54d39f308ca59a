# The two commands of the README: `make serve` runs the app, `make test` runs every test.
# Both create .venv on first use and install the locked dependencies into it.

PYTHON ?= python3
VENV ?= .venv
ARGS ?=
PYTEST_ARGS ?=
BIN := $(VENV)/bin

.PHONY: serve cluster test screenshots soak docker-smoke bench bench-quick lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.serve-installed: $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.test-installed: $(BIN)/python requirements-test.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-test.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

## serve: run the app (PORT, ADDRESS, ALLOW_WEBSOCKET_ORIGIN; extra panel serve flags in ARGS)
# The blocking demo freezes every session for a second: allowed here, off in the Docker image.
serve: $(VENV)/.serve-installed
	BLOCKING_DEMO=$${BLOCKING_DEMO:-1} $(BIN)/python -m app $(ARGS)

# The browser: CHROMIUM_EXECUTABLE if set, else a system Chromium, else Playwright's own download.
BROWSER_SETUP = browser="$${CHROMIUM_EXECUTABLE:-$$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"; \
	if [ -z "$$browser" ]; then \
		echo "No system Chromium found: installing Playwright's own."; \
		$(BIN)/playwright install chromium || exit 1; \
	else \
		echo "Browser: $$browser"; \
	fi; \
	export CHROMIUM_EXECUTABLE="$$browser"

# haproxy, for the scale-out tests and `make cluster`: Debian's, installed when missing and root.
HAPROXY_SETUP = command -v haproxy >/dev/null || { \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing haproxy (Debian)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null; }; \
	else echo "haproxy not found: install it (apt-get install haproxy) for the scale-out tests"; fi; }

## cluster: the scaled-out topology on loopback: Dask scheduler, 2 workers, 2 replicas, haproxy on PORT
cluster: $(VENV)/.serve-installed
	@$(HAPROXY_SETUP)
	$(BIN)/python -m deploy.cluster

## test: lint, unit tests and headless-browser tests, the latter also with --num-threads 2
test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	@$(HAPROXY_SETUP)
	@$(BROWSER_SETUP); \
	$(BIN)/pytest $(PYTEST_ARGS) && \
	echo "The pages again, served with --num-threads 2:" && \
	$(BIN)/pytest tests/e2e --serve-mode threads -m "not own_server" $(PYTEST_ARGS)

## screenshots: refresh docs/screenshots/ from the pages the end-to-end tests visit
screenshots: $(VENV)/.test-installed
	@$(BROWSER_SETUP); $(BIN)/pytest tests/e2e --screenshots -k "sidebar_with_every_link or position_and_progress"

## soak: 100 sessions on every page for 150 s with tabs churning; every job must balance
soak: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks.soak

## docker-smoke: build the image, run it, load and click every page, stop it (one verdict line)
docker-smoke: $(VENV)/.test-installed
	$(BIN)/python -m deploy.smoke

## bench: the app beside the guide's examples, in one run (docs/benchmarks/); bench-quick: smoke run
bench: $(VENV)/.test-installed
	@$(HAPROXY_SETUP)
	@$(BROWSER_SETUP); $(BIN)/python -m benchmarks.run

bench-quick: $(VENV)/.test-installed
	@$(HAPROXY_SETUP)
	@$(BROWSER_SETUP); $(BIN)/python -m benchmarks.run --quick --out $${OUT:-build/benchmarks-quick}

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
