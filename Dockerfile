# The app, served by `python -m app` (the same `panel serve` command `make serve` runs).
# The base image is a build argument so the image can also be built from a local Debian image.
ARG BASE_IMAGE=debian:bookworm-slim

# --- build stage: a virtual environment with the locked dependencies -------------------------
FROM ${BASE_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3=3.11.2-1+b1 python3-venv=3.11.2-1+b1 \
    && rm -rf /var/lib/apt/lists/*
# Where the package index is reached through a TLS-inspecting proxy, mount its CA bundle and
# name it here (deploy/smoke.py does); empty by default.
ARG PIP_CA_BUNDLE=""
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        ${PIP_CA_BUNDLE:+--cert "$PIP_CA_BUNDLE"} -r /tmp/requirements.lock

# --- runtime stage: Python, the environment and the app, run by a non-root user --------------
FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY app ./app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv \
    PYTHONUNBUFFERED=1 \
    ADDRESS=0.0.0.0 \
    PORT=5006 \
    ALLOW_WEBSOCKET_ORIGIN=localhost:5006,127.0.0.1:5006
USER 10001
EXPOSE 5006
# Liveness, not readiness: restart only a server that no longer answers, never one that is
# merely busy (that would lose every session on it). Balancers route by /health instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/liveness' % os.environ.get('PORT', '5006'), timeout=4)"]
# Exec form: the server runs as PID 1 and receives SIGTERM directly.
CMD ["python", "-m", "app"]
