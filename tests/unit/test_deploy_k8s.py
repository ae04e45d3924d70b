"""deploy/k8s: every manifest valid against the Kubernetes schemas (kubernetes-validate, which
ships them, so this runs offline), plus what the schemas cannot say: probes on the right paths,
replicas, autoscaling bounds, a non-root read-only container, names that refer to each other."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from aibot.config import Config
from aibot.config.loading import interpolate
from aibot.deploy.options import STOP_TIMEOUT, DeployOptions
from aibot.deploy.render import K8S_FILES, render_k8s

KUBERNETES_VERSION = "1.31"


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    rendered = render_k8s(DeployOptions())
    assert tuple(rendered) == K8S_FILES
    return {name: yaml.safe_load(text) for name, text in rendered.items()}


@pytest.mark.parametrize("name", [n for n in K8S_FILES if n != "kustomization.yaml"])
def test_manifest_matches_the_kubernetes_schema(
    manifests: dict[str, dict[str, Any]], name: str
) -> None:
    kubernetes_validate.validate(manifests[name], KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_mistakes(manifests: dict[str, dict[str, Any]]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(manifests["deployment.yaml"]))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_the_core_resources(manifests: dict[str, dict[str, Any]]) -> None:
    resources = manifests["kustomization.yaml"]["resources"]
    assert set(resources) <= set(K8S_FILES)
    assert {"deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "configmap.yaml"} <= set(
        resources
    )
    assert "secret.example.yaml" not in resources  # real secrets are the user's own


def test_deployment_probes_resources_and_security(manifests: dict[str, dict[str, Any]]) -> None:
    spec = manifests["deployment.yaml"]["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == STOP_TIMEOUT
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert set(container["resources"]) == {"requests", "limits"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(mounts.values()) == set(volumes)
    assert "/tmp" in mounts and "/var/lib/ai-bot" in mounts  # writable despite read-only root
    assert (
        volumes[mounts["/etc/ai-bot"]]["configMap"]["name"]
        == manifests["configmap.yaml"]["metadata"]["name"]
    )
    assert (
        container["envFrom"][0]["secretRef"]["name"]
        == manifests["secret.example.yaml"]["metadata"]["name"]
    )
    assert container["env"] == [{"name": "AIBOT_CONFIG", "value": "/etc/ai-bot/config.yaml"}]


def test_service_hpa_pdb_and_ingress_point_at_the_deployment(
    manifests: dict[str, dict[str, Any]],
) -> None:
    labels = manifests["deployment.yaml"]["spec"]["template"]["metadata"]["labels"]
    assert manifests["service.yaml"]["spec"]["selector"] == labels
    assert manifests["service.yaml"]["spec"]["ports"][0]["targetPort"] == "http"
    assert manifests["pdb.yaml"]["spec"]["selector"]["matchLabels"] == labels
    hpa = manifests["hpa.yaml"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["scaleTargetRef"]["name"] == manifests["deployment.yaml"]["metadata"]["name"]
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    backend = manifests["ingress.yaml"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == manifests["service.yaml"]["metadata"]["name"]


def test_configmap_holds_a_valid_config_and_the_secret_only_placeholders(
    manifests: dict[str, dict[str, Any]],
) -> None:
    raw = yaml.safe_load(manifests["configmap.yaml"]["data"]["config.yaml"])
    assert raw["storage"]["url"] == "${AIBOT_STORAGE_URL}"
    # As the gateway reads it: `${VAR:-default}` takes its default when the pod sets no VAR.
    missing: list[str] = []
    filled = interpolate(raw, {}, missing)
    config = Config.model_validate(
        {
            **filled,
            "storage": {"url": "postgresql://u@db/aibot"},
            "redis": {"url": "redis://redis:6379/0"},
            "channels": {"api": {"keys": ["k"]}},
        }
    )
    assert config.server.port == 18789
    secret = manifests["secret.example.yaml"]["stringData"]
    assert all("change-me" in v or not k.endswith("KEY") for k, v in secret.items())


def test_the_web_chat_keeps_to_one_pod_and_the_api_stays_spread(
    manifests: dict[str, dict[str, Any]],
) -> None:
    """With two pods and no affinity, a page's upload and its next message over `/ws` land on
    different pods half the time, and the upload (kept by the pod that took it) is refused.
    `ingress-page.yaml` sends both paths by one cookie; `ingress.yaml` keeps no affinity, so
    API clients, which never call those paths and get no cookie, stay spread."""
    page, main = manifests["ingress-page.yaml"], manifests["ingress.yaml"]
    notes = page["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/session-cookie-path"] == "/"  # both paths
    assert not any("affinity" in key for key in main["metadata"]["annotations"])
    (rule,) = page["spec"]["rules"]
    paths = {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}
    assert paths == {("/ws", "Exact"), ("/web/upload", "Exact")}
    assert rule["host"] == main["spec"]["rules"][0]["host"]
    assert page["spec"]["tls"] == main["spec"]["tls"]
    service = manifests["service.yaml"]["metadata"]["name"]
    assert {p["backend"]["service"]["name"] for p in rule["http"]["paths"]} == {service}
    assert "ingress-page.yaml" in render_k8s(DeployOptions())["ingress.yaml"]  # says add it
    for key in ("proxy-body-size", "proxy-read-timeout", "proxy-buffering"):
        name = f"nginx.ingress.kubernetes.io/{key}"
        assert notes[name] == main["metadata"]["annotations"][name]
