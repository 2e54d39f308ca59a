"""The deployment files agree with each other and with what the Dask backend needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.cluster import CLUSTER_CONFIG, HAPROXY_CFG

ROOT = Path(__file__).resolve().parents[2]


def test_compose_gives_the_cluster_what_make_cluster_gives_it() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert services["scheduler"]["environment"] == CLUSTER_CONFIG
    assert services["worker"]["environment"] == CLUSTER_CONFIG
    names = {services[r]["environment"]["REPLICA_NAME"] for r in ("replica-1", "replica-2")}
    assert names == {"replica-1", "replica-2"}
    balancer = services["balancer"]["environment"]
    assert {balancer["REPLICA_1"], balancer["REPLICA_2"]} == {"replica-1:5006", "replica-2:5006"}


def test_the_haproxy_configuration_is_valid() -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.fail("haproxy is not installed (apt-get install haproxy); make test installs it")
    env = {**os.environ, "BALANCER_BIND": "127.0.0.1:5006", "REPLICA_1": "127.0.0.1:5007",
           "REPLICA_2": "127.0.0.1:5008"}  # fmt: skip
    result = subprocess.run([haproxy, "-c", "-f", str(HAPROXY_CFG)], env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
