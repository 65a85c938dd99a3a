"""The mock's Gemini side, checked with Google's own SDK (`google-genai`): if the SDK parses
it, field names and framing are Google's."""

from __future__ import annotations

import httpx
import pytest
from google import genai
from google.genai import errors, types

from support import MockUpstream


@pytest.fixture
def gclient(mock: MockUpstream) -> genai.Client:
    return genai.Client(api_key="g-key", http_options=types.HttpOptions(base_url=mock.url))


def test_generate_content(gclient: genai.Client, mock: MockUpstream, tag: str) -> None:
    answer = gclient.models.generate_content(
        model="gemini-2.5-flash",
        contents=f"{tag} #mock chunks=3",
        config=types.GenerateContentConfig(system_instruction="be brief", max_output_tokens=20),
    )
    assert answer.text == "w0 w1 w2 "
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.usage_metadata.candidates_token_count == 3
    assert answer.usage_metadata.prompt_token_count == 5  # 3 words and "be brief"
    assert answer.model_version == "gemini-2.5-flash"
    assert answer.response_id
    record = mock.request(tag)
    assert record["path"] == "/v1/models/gemini-2.5-flash:generateContent"
    assert record["headers"]["x-goog-api-key"] == "g-key"
    assert record["body"]["generationConfig"] == {"maxOutputTokens": 20}
    assert record["model"] == "gemini-2.5-flash" and record["stream"] is False


def test_stream_generate_content(gclient: genai.Client, mock: MockUpstream, tag: str) -> None:
    chunks = list(
        gclient.models.generate_content_stream(
            model="gemini-2.5-flash", contents=f"{tag} #mock chunks=3 reasoning=1"
        )
    )
    texts = [p.text for c in chunks for p in c.candidates[0].content.parts if not p.thought]
    thoughts = [p.text for c in chunks for p in c.candidates[0].content.parts if p.thought]
    assert "".join(texts) == "w0 w1 w2 "
    assert thoughts == ["r0 ", "r1 ", "r2 "]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.thoughts_token_count == 3
    record = mock.request(tag)
    assert record["path"] == "/v1/models/gemini-2.5-flash:streamGenerateContent"
    assert record["query"] == "alt=sse" and record["stream"] is True


def test_function_call(gclient: genai.Client, tag: str) -> None:
    answer = gclient.models.generate_content(
        model="gemini-2.5-flash", contents=f"{tag} #mock tools=1"
    )
    call = answer.function_calls[0]
    assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
    assert answer.candidates[0].content.parts[0].thought_signature
    streamed = list(
        gclient.models.generate_content_stream(
            model="gemini-2.5-flash", contents=f"{tag}s #mock tools=1"
        )
    )
    assert streamed[0].function_calls[0].args == {"city": "Paris"}


def test_finish_reason_and_block(gclient: genai.Client, tag: str) -> None:
    answer = gclient.models.generate_content(
        model="g", contents=f"{tag} #mock chunks=1 finish=SAFETY"
    )
    assert answer.candidates[0].finish_reason == types.FinishReason.SAFETY
    blocked = gclient.models.generate_content(model="g", contents=f"{tag}b #mock block=SAFETY")
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert not blocked.candidates


def test_errors_are_googles(gclient: genai.Client, tag: str) -> None:
    with pytest.raises(errors.ClientError) as caught:
        gclient.models.generate_content(model="g", contents=f"{tag} #mock status=429 retry_after=7")
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    assert caught.value.details["error"]["details"][0]["retryDelay"] == "7s"
    with pytest.raises(errors.ServerError) as server:
        gclient.models.generate_content(model="g", contents=f"{tag}x #mock status=503")
    assert server.value.status == "UNAVAILABLE"


def test_missing_key_is_403(mock: MockUpstream) -> None:
    response = httpx.post(
        mock.url + "/v1beta/models/g:generateContent", json={"contents": []}, timeout=5
    )
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_mid_stream_error_event(gclient: genai.Client, tag: str) -> None:
    seen = []
    with pytest.raises(errors.APIError):
        for chunk in gclient.models.generate_content_stream(
            model="g", contents=f"{tag} #mock chunks=4 error_event_after=2"
        ):
            seen.append(chunk.text)
    assert seen == ["w0 ", "w1 "]
