"""The deployment artifacts (Dockerfile, docker-compose.yml, deploy/) checked as far as a
machine without a container engine allows: linted, validated against the Compose
specification and the Kubernetes API schemas, their gateway configs loaded by
`sluicegate check-config`, and their timings checked against `server.drain_seconds`. The
topology itself runs as processes in tests/topology/."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

from support import ROOT, clean_env

BIN = Path(sys.executable).parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # the oldest release still commonly run; newer accept the same


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120
    )


def _manifests() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    documents = {}
    for name in kustomization["resources"]:
        document = yaml.safe_load((KUBERNETES / name).read_text())
        documents[document["kind"]] = document
    return documents


def _config_with_env(text: str, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / name
    path.write_text(text)
    env = {
        **clean_env(),
        "SLUICEGATE_MASTER_KEY": "sk-test-master",
        "POSTGRES_PASSWORD": "pw",
        "OPENAI_API_KEY": "sk-test-openai",
    }
    return _run(sys.executable, "-m", "sluicegate", "check-config", path, env=env)


def test_dockerfile_passes_hadolint() -> None:
    result = _run(BIN / "hadolint", "--no-color", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "COPY --from=build" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    assert re.search(r"^HEALTHCHECK .*\n?.*/health'", text, re.M)
    assert re.search(r"^EXPOSE 4000$", text, re.M)
    # The build context holds what `pip install .` needs and nothing else.
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignore = [line for line in lines if line and not line.startswith("#")]
    assert ignore[0] == "*" and {"!pyproject.toml", "!README.md", "!src/"} <= set(ignore)


def test_the_wheel_carries_every_file_of_the_package(tmp_path: Path) -> None:
    """What the image installs (`pip install .`): no module or data file left behind."""
    result = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, ".")
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("sluicegate-*.whl")
    packaged = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("sluicegate/")}
    source = ROOT / "src"
    expected = {
        p.relative_to(source).as_posix()
        for p in (source / "sluicegate").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert expected - packaged == set()


def test_compose_file_follows_the_compose_specification() -> None:
    result = _run(
        BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_topology_fits_the_drain_and_its_config_loads(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"gateway-1", "gateway-2", "nginx", "postgres", "redis"} <= set(services)
    config_text = (ROOT / "deploy" / "compose" / "sluicegate.yaml").read_text()
    drain = yaml.safe_load(config_text)["server"]["drain_seconds"]
    for name in ("gateway-1", "gateway-2"):
        grace = services[name]["stop_grace_period"]
        assert int(grace.rstrip("s")) > drain, name
    # nginx renders deploy/nginx.conf (the file tests/topology/ runs) with these values.
    nginx = services["nginx"]
    assert (
        "./deploy/nginx.conf:/etc/nginx/templates/sluicegate.conf.template:ro" in nginx["volumes"]
    )
    template = (ROOT / "deploy" / "nginx.conf").read_text()
    placeholders = set(re.findall(r"\$\{(SLUICEGATE_\w+)\}", template))
    assert placeholders == set(nginx["environment"])
    assert nginx["environment"]["SLUICEGATE_UPSTREAM_1"] == "gateway-1:4000"
    assert nginx["ports"] == [f"{nginx['environment']['SLUICEGATE_LISTEN']}:4000"]
    result = _config_with_env(config_text, tmp_path, "compose.yaml")
    assert result.returncode == 0, result.stderr


def test_kubernetes_manifests_match_the_api_schemas() -> None:
    files = [
        KUBERNETES / n
        for n in yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    ]
    result = _run(BIN / "kubernetes-validate", "-k", KUBERNETES_VERSION, "--strict", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_probes_and_grace_period_fit_the_drain(tmp_path: Path) -> None:
    manifests = _manifests()
    config_text = manifests["ConfigMap"]["data"]["sluicegate.yaml"]
    drain = yaml.safe_load(config_text)["server"]["drain_seconds"]
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + drain + 5
    assert pod["securityContext"]["runAsNonRoot"] is True
    port = container["ports"][0]["containerPort"]
    assert container["args"][container["args"].index("--port") + 1] == str(port)
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    service = manifests["Service"]["spec"]
    assert (
        service["selector"].items() <= pod.get("labels", {}).items()
        or service["selector"].items()
        <= manifests["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    )
    result = _config_with_env(config_text, tmp_path, "kubernetes.yaml")
    assert result.returncode == 0, result.stderr
