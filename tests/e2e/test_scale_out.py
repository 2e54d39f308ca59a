"""The scaled-out topology with its real parts: a Dask scheduler and two `dask worker` processes,
two app replicas, and haproxy in front (deploy/cluster.py, what `make cluster` starts). Two
browsers land on different replicas; their jobs run on the Dask workers; cancel, a closed tab
and the cluster-wide bound behave as on one server, and positions are the cluster's."""

from __future__ import annotations

import gzip
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import assert_clean
from helpers import open_page
from playwright.sync_api import Browser, Page, expect

from deploy.cluster import WORKER_NICE, Cluster, running
from tests.support.serving import free_port

pytestmark = pytest.mark.own_server

REPLICA_ENV = {
    "QUEUE_ITEM_SECONDS": "3",
    "QUEUE_MAX_PER_SESSION": "4",
    "CLUSTER_MAX_JOBS": "5",
    "LOG_LEVEL": "INFO",
}
DASK_POOL = re.compile(r"^Dask cluster: \d+ of 2 workers busy")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("cluster")
    with running(free_port(), workers=2, replicas=2, logs=logs, replica_env=REPLICA_ENV) as c:
        yield c
    for replica in ("replica-1", "replica-2"):
        assert_clean(c.part(replica).log.read_text())


def visitor(browser: Browser, cluster: Cluster) -> tuple[Page, str]:
    """A new browser on the queue page, through the balancer, and the replica it landed on."""
    page = open_page(browser.new_context(base_url=cluster.url).new_page(), "/threaded_queue")
    expect(page.get_by_text(DASK_POOL)).to_be_visible()
    # The balancer's cookie keeps this browser on one replica, which /health names.
    return page, page.request.get("/health").json()["replica"]


def two_visitors_on_two_replicas(browser: Browser, cluster: Cluster) -> tuple[Page, Page]:
    first, where = visitor(browser, cluster)
    for _ in range(6):  # round robin: the next one or two land on the other replica
        other, elsewhere = visitor(browser, cluster)
        if elsewhere != where:
            return first, other
        other.context.close()
    raise AssertionError("every browser landed on the same replica")


def launch(page: Page, times: int = 1) -> None:
    for _ in range(times):
        page.get_by_role("button", name="Click to launch").click()


def states(page: Page):
    return page.locator(".job-row .state")


def idle(page: Page) -> None:
    expect(page.get_by_text(DASK_POOL)).to_contain_text(
        "0 of 2 workers busy · 0 jobs waiting in the cluster", timeout=20000
    )


def test_two_browsers_on_two_replicas_run_jobs_on_the_dask_workers(
    browser: Browser, cluster: Cluster
) -> None:
    a, b = two_visitors_on_two_replicas(browser, cluster)
    idle(a)
    launch(a)
    launch(b)
    for page in (a, b):
        expect(states(page)).to_have_text(["done"], timeout=15000)
        # It ran in a Dask worker process, not in the app's.
        expect(page.locator(".job-row .where")).to_have_text(re.compile(r"^dask worker tcp://"))
    a.context.close()
    b.context.close()


def test_the_balancer_gzips_the_scripts(cluster: Cluster) -> None:
    request = urllib.request.Request(
        f"{cluster.url}/static/js/bokeh.min.js", headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        body = response.read()
    assert len(gzip.decompress(body)) > 2 * len(body)  # haproxy's default level, 1


def test_positions_are_the_clusters_and_a_running_job_can_be_cancelled(
    browser: Browser, cluster: Cluster
) -> None:
    a, b = two_visitors_on_two_replicas(browser, cluster)
    idle(a)
    launch(a, 2)  # both workers busy with a's jobs
    expect(states(a)).to_have_text(["running", "running"], timeout=15000)
    launch(b)  # b, on the other replica, waits first in the cluster's line
    expect(states(b)).to_have_text(["queued"])
    expect(b.locator(".job-row .position")).to_have_text("1")
    expect(a.get_by_text(DASK_POOL)).to_contain_text("1 jobs waiting in the cluster")
    a.locator(".job-row").first.get_by_role("button", name="Cancel").click()
    expect(states(a)).to_have_text(["cancelled", re.compile("running|done")], timeout=5000)
    # The freed worker takes b's job.
    expect(states(b)).to_have_text(["running"], timeout=5000)
    expect(states(b)).to_have_text(["done"], timeout=15000)
    a.context.close()
    b.context.close()


def test_a_closed_tab_takes_its_jobs_out_of_the_cluster(
    browser: Browser, cluster: Cluster
) -> None:
    a, b = two_visitors_on_two_replicas(browser, cluster)
    idle(a)
    launch(b, 4)  # two run, two wait in the cluster
    expect(states(b)).to_have_text(["running", "running", "queued", "queued"], timeout=15000)
    b.context.close()
    # Seen from the other replica: the cluster is idle again within seconds, well before the
    # 3-s jobs could have ended on their own, let alone the two behind them.
    idle(a)
    a.context.close()


def test_the_cluster_wide_bound_gives_its_message(browser: Browser, cluster: Cluster) -> None:
    a, b = two_visitors_on_two_replicas(browser, cluster)
    idle(a)
    launch(a, 3)
    expect(states(a)).to_have_count(3)
    launch(b, 2)  # five unfinished jobs: the cluster's bound
    expect(states(b)).to_have_count(2)
    # Once b's replica has heard of all five from the scheduler (it asks twice a second): two
    # run, three wait in the cluster's line.
    expect(b.get_by_text(DASK_POOL)).to_contain_text("3 jobs waiting in the cluster")
    launch(b)
    expect(b.get_by_text(re.compile(r"^The cluster is full: 5 jobs of every server are "
                                    r"unfinished"))).to_be_visible(timeout=5000)  # fmt: skip
    expect(states(b)).to_have_count(2)
    for page in (a, b):
        page.get_by_role("button", name="Cancel all").click()
    idle(a)
    a.context.close()
    b.context.close()


def test_the_workers_compute_below_the_replicas_cpu_priority(cluster: Cluster) -> None:
    """Each worker's processes (the nanny and the worker it spawned) and its scheduling group
    run at WORKER_NICE; the replicas, the scheduler and the balancer at the default."""

    def nice(pid: int) -> tuple[int, str]:
        group = Path(f"/proc/{pid}/autogroup")
        return os.getpriority(os.PRIO_PROCESS, pid), group.read_text() if group.exists() else ""

    for part in cluster.parts:
        pids = [part.process.pid, *(c.pid for c in psutil.Process(part.process.pid).children(True))]
        want = WORKER_NICE if part.name.startswith("worker") else 0
        assert len(pids) >= (2 if want else 1), part.name
        for pid in pids:
            own, group = nice(pid)
            assert own == want, (part.name, pid)
            assert not group or group.rstrip().endswith(f"nice {want}"), (part.name, group)
