"""The Kubernetes manifests of ops/kubernetes/ fit the demo app they run.

Every probe names a path the app serves and a port the container opens;
the Service and the PodDisruptionBudget select the Deployment's pods; the
grace period covers the preStop hook, hiccup's drain and uvicorn's own
graceful shutdown.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import call
from writer_support import import_path

import hiccup

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "ops" / "kubernetes"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    by_kind = {}
    for document in _documents():
        assert document["kind"] not in by_kind, document["kind"]
        by_kind[document["kind"]] = document
    return by_kind


@pytest.fixture(scope="module")
def container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    [app] = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    return app


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo app, as ``app:app`` builds it, on a database of its own."""
    import_path()
    from writer import create_app  # noqa: PLC0415 - importable once the path is set

    database = tmp_path_factory.mktemp("demo") / "drafts.sqlite3"
    return create_app(
        database_url=f"sqlite+aiosqlite:///{database}",
        breaker_name="writer-large-manifests",
    )


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry for entry in container["env"]}


def _served(app: Any, paths: list[str]) -> dict[str, int]:
    async def run() -> dict[str, int]:
        async with app.router.lifespan_context(app):
            await app.state.hiccup_health.refresh()
            return {path: (await call(app, "GET", path)).status for path in paths}

    return asyncio.run(run())


def test_the_manifests_are_a_deployment_a_service_and_a_budget(
    manifests: dict[str, dict[str, Any]],
) -> None:
    assert sorted(manifests) == ["Deployment", "PodDisruptionBudget", "Service"]
    assert {doc["apiVersion"] for doc in manifests.values()} == {
        "apps/v1",
        "v1",
        "policy/v1",
    }


def test_every_probe_is_a_path_the_app_serves(
    container: dict[str, Any], demo_app: Any
) -> None:
    paths = [container[probe]["httpGet"]["path"] for probe in PROBES]
    metrics = "/metrics"

    statuses = _served(demo_app, [*paths, metrics])

    assert paths == ["/startupz", "/livez", "/readyz"]
    assert statuses == dict.fromkeys([*paths, metrics], 200)


def test_the_probes_and_the_service_use_the_port_uvicorn_listens_on(
    manifests: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    [port] = container["ports"]
    listens = int(_option(container["command"], "--port"))

    assert port["containerPort"] == listens
    for probe in PROBES:
        assert container[probe]["httpGet"]["port"] == port["name"], probe
    [service_port] = manifests["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]


def test_the_scrape_annotations_point_at_the_metrics(
    manifests: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    annotations = manifests["Deployment"]["spec"]["template"]["metadata"]["annotations"]

    assert annotations["prometheus.io/scrape"] == "true"
    assert (
        int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"]
    )
    assert annotations["prometheus.io/path"] == hiccup.Settings().metrics_path


def test_the_service_and_the_budget_select_the_pods(
    manifests: dict[str, dict[str, Any]],
) -> None:
    deployment = manifests["Deployment"]["spec"]
    labels = deployment["template"]["metadata"]["labels"]
    selectors = [
        deployment["selector"]["matchLabels"],
        manifests["Service"]["spec"]["selector"],
        manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ]

    for selector in selectors:
        assert selector.items() <= labels.items(), selector
    assert (
        manifests["PodDisruptionBudget"]["spec"]["minAvailable"]
        < deployment["replicas"]
    )


def test_the_grace_period_covers_the_hook_the_drain_and_the_shutdown(
    manifests: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    hook = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    [hook_seconds] = re.findall(r"sleep\(([0-9.]+)\)", hook)
    drain = float(_env(container)["HICCUP_DRAIN_SECONDS"]["value"])
    graceful = float(_option(container["command"], "--timeout-graceful-shutdown"))
    grace = manifests["Deployment"]["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]

    assert drain > 0
    assert grace > float(hook_seconds) + drain + graceful


def test_probe_timings_outlast_a_check_timeout_and_let_the_app_start(
    container: dict[str, Any],
) -> None:
    check_timeout = 1.0  # hiccup's default per check
    for probe in PROBES:
        assert container[probe]["timeoutSeconds"] > check_timeout, probe
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60
    # Readiness fails once the drain begins, and the pod serves on through
    # it: long enough for the kubelet to see it fail, for the balancers
    # that go by readiness.
    ready = container["readinessProbe"]
    drain = float(_env(container)["HICCUP_DRAIN_SECONDS"]["value"])
    assert ready["periodSeconds"] * ready["failureThreshold"] <= drain


def test_the_container_has_requests_limits_and_no_privileges(
    container: dict[str, Any],
) -> None:
    resources = container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert set(resources["limits"]) == {"cpu", "memory"}
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]


def test_the_health_token_comes_from_a_secret(container: dict[str, Any]) -> None:
    token = _env(container)["HICCUP_HEALTH_TOKEN"]

    assert "value" not in token
    assert token["valueFrom"]["secretKeyRef"]["key"] == "token"
