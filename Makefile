# The two commands of the README: `make serve` runs the app, `make test` runs every test.
# Both create .venv on first use and install the locked dependencies into it.

PYTHON ?= python3
VENV ?= .venv
ARGS ?=
PYTEST_ARGS ?=
BIN := $(VENV)/bin

.PHONY: serve test docker-smoke bench bench-quick lint clean

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

## test: lint, unit tests and headless-browser tests
# The browser: CHROMIUM_EXECUTABLE if set, else a system Chromium, else Playwright's own download.
test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	@browser="$${CHROMIUM_EXECUTABLE:-$$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"; \
	if [ -z "$$browser" ]; then \
		echo "No system Chromium found: installing Playwright's own."; \
		$(BIN)/playwright install chromium || exit 1; \
	else \
		echo "Browser: $$browser"; \
	fi; \
	CHROMIUM_EXECUTABLE="$$browser" $(BIN)/pytest $(PYTEST_ARGS)

## docker-smoke: build the image, run it, load and click every page, stop it (one verdict line)
docker-smoke: $(VENV)/.test-installed
	$(BIN)/python -m deploy.smoke

## bench: the app beside the guide's examples, in one run (docs/benchmarks/); bench-quick: smoke run
bench: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks.run

bench-quick: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks.run --quick --out $${OUT:-build/benchmarks-quick}

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
