"""The `azure` backend through the gateway: deployment in the path, `api-version` query,
`api-key` header; everything else is the OpenAI path (tested in tests/proxy/)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from sluicegate.config.schema import AZURE_API_VERSION, BackendConfig
from sluicegate.providers.azure import AzureProvider
from sluicegate.providers.base import Operation
from support import ALICE_KEY, NEVER_COOL, UPSTREAM_KEY, MockUpstream, RunningGateway


def _backend(name: str, mock_url: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "type": "azure",
        "base_url": mock_url,
        "api_key": UPSTREAM_KEY,
        "max_retries": 1,
        "cooldown": NEVER_COOL,
        "timeouts": {"connect": 2, "first_token": 1, "idle": 2, "total": 10},
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(mock: MockUpstream) -> Iterator[RunningGateway]:
    from sluicegate.config.schema import GatewayConfig

    config = GatewayConfig.model_validate(
        {
            "backends": [
                _backend("az", mock.url, api_version="2024-06-01"),
                _backend("az-default", mock.url + "/openai/"),
            ],
            "models": [
                {
                    "name": "gpt",
                    "targets": [{"backend": "az", "model": "my-gpt4o"}],
                    "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                },
                {"name": "gpt-default", "targets": [{"backend": "az-default", "model": "dep"}]},
            ],
            "users": [{"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]}],
        }
    )
    running = RunningGateway(config)
    yield running
    running.stop()


@pytest.fixture
def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=ALICE_KEY, max_retries=0)


def test_urls_name_the_deployment_and_api_version() -> None:
    config = BackendConfig(name="a", type="azure", base_url="https://r.openai.azure.com/")
    provider = AzureProvider(config)
    assert provider._url(Operation.CHAT, {"model": "gpt 4o"}) == (
        "https://r.openai.azure.com/openai/deployments/gpt%204o/chat/completions"
        f"?api-version={AZURE_API_VERSION}"
    )
    assert provider._credentials() == {}
    keyed = AzureProvider(config.model_copy(update={"api_key": "k", "api_version": "v1"}))
    assert keyed._credentials() == {"api-key": "k"}
    assert keyed._url(Operation.EMBEDDINGS, {"model": "e"}).endswith(
        "/openai/deployments/e/embeddings?api-version=v1"
    )


def test_api_version_is_refused_on_other_types() -> None:
    with pytest.raises(ValueError, match="azure backends only"):
        BackendConfig(name="o", type="openai", api_version="2024-10-21")


def test_chat_non_stream(
    client: openai.OpenAI, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt", messages=[{"role": "user", "content": f"{tag} #mock chunks=2"}]
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == "w0 w1 "
    record = mock.request(tag)
    assert record["path"] == "/openai/deployments/my-gpt4o/chat/completions"
    assert record["query"] == "api-version=2024-06-01"
    assert record["headers"]["api-key"] == UPSTREAM_KEY
    assert record["authorization"] is None
    row = gateway.completion(raw.headers["x-request-id"])
    assert (row.backend, row.resolved_model, row.status_code) == ("az", "my-gpt4o", 200)
    assert row.usage.completion_tokens == 2
    assert row.cost_usd == pytest.approx((row.usage.prompt_tokens * 1 + 2 * 2) / 1e6)


def test_chat_stream_with_default_api_version(
    client: openai.OpenAI, mock: MockUpstream, tag: str
) -> None:
    stream = client.chat.completions.create(
        model="gpt-default",
        messages=[{"role": "user", "content": f"{tag} #mock chunks=3"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "w0 w1 w2 "
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    record = mock.request(tag)
    assert record["path"] == "/openai/deployments/dep/chat/completions"
    assert record["query"] == f"api-version={AZURE_API_VERSION}"


def test_embeddings(client: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    result = client.embeddings.create(model="gpt", input=[f"{tag} a", "b"])
    assert len(result.data) == 2
    assert mock.request(tag)["path"] == "/openai/deployments/my-gpt4o/embeddings"


def test_upstream_status_passes_through(client: openai.OpenAI, tag: str) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="gpt",
            messages=[{"role": "user", "content": f"{tag} #mock status=429 retry_after=30"}],
        )
    assert caught.value.status_code == 429
