"""`sluicegate serve --config litellm_config.yaml` (SPEC 1, 11): LiteLLM proxy configs served as
they are, to the mock upstream over its OpenAI, Azure, Anthropic and Gemini paths, with the
official SDKs as LiteLLM's clients use them (the master key as their key)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from support import MockUpstream, clean_env, free_port, wait_until

from .litellm_env import FIXTURES

MASTER = "sk-1234"
PROVIDERS_MASTER = "sk-litellm-providers"
SERVE = [sys.executable, "-m", "sluicegate", "serve", "--config"]


class Served:
    """`sluicegate serve --config CONFIG` as a subprocess, its stderr kept in a file."""

    def __init__(self, config: Path, key: str, env: dict[str, str], cwd: Path) -> None:
        self.key = key  # the LiteLLM master key of the fixture
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = cwd / "stderr.txt"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [*SERVE, str(config), "--port", str(self.port)],
                cwd=cwd,
                env={**clean_env(), **env},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        wait_until(self._up, 20.0, 0.05)

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited {self.process.returncode}: {self.stderr()}")
        try:
            return httpx.get(self.url + "/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def dead_base() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused


@pytest.fixture(scope="module")
def balanced(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {
        "MOCK_API_BASE": mock.url + "/v1",
        "MOCK_KEY_A": "lb-key-a",
        "MOCK_KEY_B": "lb-key-b",
        "DEAD_API_BASE": dead_base(),
    }
    served = Served(
        FIXTURES / "load_balancing.yaml", MASTER, env, tmp_path_factory.mktemp("litellm-lb")
    )
    yield served
    served.stop()


@pytest.fixture(scope="module")
def providers(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {
        "AZURE_API_BASE_EU": mock.url,
        "AZURE_API_BASE_CA": mock.url,
        "AZURE_API_KEY_EU": "az-eu-key",
        "AZURE_API_KEY_CA": "az-ca-key",
        "ANTHROPIC_API_BASE": mock.url,
        "ANTHROPIC_API_KEY": "anthropic-upstream-key",
        "GEMINI_API_BASE": mock.url,
        "GEMINI_API_KEY": "gemini-upstream-key",
        "DEAD_API_BASE": dead_base(),
        "LITELLM_MASTER_KEY": PROVIDERS_MASTER,
    }
    served = Served(
        FIXTURES / "providers.yaml",
        PROVIDERS_MASTER,
        env,
        tmp_path_factory.mktemp("litellm-providers"),
    )
    yield served
    served.stop()


def admin_get(served: Served, path: str) -> Any:
    """An admin API answer (None while it is 404: a log row is written a moment later)."""
    response = httpx.get(
        served.url + path, headers={"authorization": f"Bearer {served.key}"}, timeout=10
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


def test_start_prints_one_warning_listing_the_unmapped_keys(balanced: Served) -> None:
    warnings = [line for line in balanced.stderr().splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: LiteLLM config: 3 key(s) not mapped, ignored: model_list[4].model_info, "
        "litellm_settings.context_window_fallbacks, litellm_settings.drop_params "
        "(sluicegate import-litellm FILE says why for each)"
    ]


def test_model_table_weights_deployments_by_rpm(balanced: Served) -> None:
    models = admin_get(balanced, "/admin/models")["data"]
    model = next(m for m in models if m["name"] == "zephyr-beta")
    assert [(t["backend"], t["weight"]) for t in model["targets"]] == [
        ("openai", 60),
        ("openai-2", 600),
        ("hosted-vllm", 60000),
    ]
    assert model["strategy"] == "weighted"
    assert model["fallbacks"] == ["gpt-4o"]


def ask(served: Served, mock: MockUpstream, model: str, tag: str) -> tuple[str, dict[str, Any]]:
    """One chat through `served` with the OpenAI SDK and the LiteLLM master key: the request
    id, and the mock's record of the upstream call."""
    client = openai.OpenAI(base_url=served.url + "/v1", api_key=served.key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": f"hi {tag}"}]
    )
    assert raw.parse().choices[0].message.content
    return raw.headers["x-request-id"], mock.request(tag)


def test_openai_sdk_with_the_master_key_reaches_the_deployment(
    balanced: Served, mock: MockUpstream, tag: str
) -> None:
    _, record = ask(balanced, mock, "gpt-4o", tag)
    assert (record["path"], record["model"]) == ("/v1/chat/completions", "gpt-4o")
    assert record["authorization"] == "Bearer lb-key-a"


def test_model_group_alias_streams_from_the_aliased_deployment(
    balanced: Served, mock: MockUpstream, tag: str
) -> None:
    client = openai.OpenAI(base_url=balanced.url + "/v1", api_key=MASTER, max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4",
        messages=[{"role": "user", "content": f"#mock chunks=3 {tag}"}],
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
    assert mock.request(tag)["model"] == "gpt-4o"


def test_a_dead_deployment_moves_on_to_the_next_one(
    balanced: Served, mock: MockUpstream, tag: str
) -> None:
    # The vLLM deployment (weight 60000 of 60660) is usually drawn first, and refuses.
    _, record = ask(balanced, mock, "zephyr-beta", tag)
    assert record["model"] == "zephyr-7b-beta"
    assert record["authorization"] in ("Bearer lb-key-a", "Bearer lb-key-b")


def test_a_key_other_than_the_master_key_is_refused(balanced: Served) -> None:
    client = openai.OpenAI(base_url=balanced.url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])


def test_azure_deployments_get_their_api_version_and_key(
    providers: Served, mock: MockUpstream, tag: str
) -> None:
    targets = admin_get(providers, "/admin/models")["data"]
    weights = [t["weight"] for m in targets if m["name"] == "gpt-4o" for t in m["targets"]]
    assert weights == [6, 12]
    _, record = ask(providers, mock, "gpt-4o", tag)
    region = "eu" if record["path"].startswith("/openai/deployments/gpt-4o-eu/") else "ca"
    assert record["path"] == f"/openai/deployments/gpt-4o-{region}/chat/completions"
    assert record["query"] == "api-version=2024-08-01-preview"
    assert record["headers"]["api-key"] == f"az-{region}-key"


def test_anthropic_sdk_reaches_the_anthropic_deployment(
    providers: Served, mock: MockUpstream, tag: str
) -> None:
    client = anthropic.Anthropic(base_url=providers.url, api_key=providers.key, max_retries=0)
    message = client.messages.create(
        model="claude-3-5-sonnet",
        max_tokens=64,
        messages=[{"role": "user", "content": f"hi {tag}"}],
    )
    assert message.content[0].type == "text"
    record = mock.request(tag)
    assert record["path"] == "/v1/messages"
    assert record["model"] == "claude-3-5-sonnet-20240620"
    assert record["headers"]["x-api-key"] == "anthropic-upstream-key"


def test_gemini_deployment_is_called_natively(
    providers: Served, mock: MockUpstream, tag: str
) -> None:
    _, record = ask(providers, mock, "gemini-pro", tag)
    assert record["path"] == "/v1beta/models/gemini-1.5-pro:generateContent"
    assert record["headers"]["x-goog-api-key"] == "gemini-upstream-key"


def test_router_fallbacks_answer_when_the_deployment_fails(
    providers: Served, mock: MockUpstream, tag: str
) -> None:
    request_id, record = ask(providers, mock, "gpt-4-broken", tag)
    # The azure deployment refused the connection; its fallback (Anthropic) answered.
    assert (record["path"], record["model"]) == ("/v1/messages", "claude-3-5-sonnet-20240620")
    row = wait_until(lambda: admin_get(providers, f"/admin/analytics/requests/{request_id}"))
    attempts = [(a["backend"], a["status_code"]) for a in row["attempts"]]
    assert attempts[0] == ("azure-3", None)
    assert attempts[-1] == ("anthropic", 200)


def test_serve_refuses_a_litellm_config_whose_secret_is_not_set(tmp_path: Path) -> None:
    result = subprocess.run(
        [*SERVE, str(FIXTURES / "providers.yaml"), "--port", str(free_port())],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        "model_list[0].litellm_params.api_base: environment variable AZURE_API_BASE_EU is not set"
        in result.stderr
    )


RELOADED = """\
model_list:
  - {model_name: m, litellm_params: {model: openai/a, api_base: %(base)s, rpm: %(rpm)s}}
  - {model_name: m, litellm_params: {model: openai/b, api_base: %(base)s, rpm: 30}}
general_settings: {master_key: %(key)s}
"""


def test_admin_reload_rereads_the_litellm_config(mock: MockUpstream, tmp_path: Path) -> None:
    path = tmp_path / "litellm_config.yaml"
    values = {"base": mock.url + "/v1", "rpm": 10, "key": "sk-reload"}
    path.write_text(RELOADED % values)
    served = Served(path, "sk-reload", {}, tmp_path)
    try:
        weights = lambda: [  # noqa: E731
            t["weight"] for t in admin_get(served, "/admin/models")["data"][0]["targets"]
        ]
        assert weights() == [10, 30]
        path.write_text(RELOADED % {**values, "rpm": 90})
        reload = httpx.post(
            served.url + "/admin/reload", headers={"authorization": "Bearer sk-reload"}
        )
        assert reload.status_code == 200, reload.text
        assert weights() == [90, 30]
        path.write_text(RELOADED % {**values, "rpm": "os.environ/UNSET_RPM_VARIABLE"})
        refused = httpx.post(
            served.url + "/admin/reload", headers={"authorization": "Bearer sk-reload"}
        )
        assert refused.status_code == 400
        assert "environment variable UNSET_RPM_VARIABLE is not set" in refused.text
        assert weights() == [90, 30]
    finally:
        served.stop()
