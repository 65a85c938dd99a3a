"""Simon Willison's `llm` CLI against the gateway, run as the user runs it (a subprocess reading
an `extra-openai-models.yaml`) in a private `LLM_USER_PATH`, never the real user's config."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import ALICE_KEY, MockUpstream, RunningGateway, clean_env

KEY_NAME = "sluicegate"


@pytest.fixture(scope="module")
def llm_env(gateway: RunningGateway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every `llm` run: its config folder holds the gateway's models (as
    docs/clients.md tells users to write them) and the user's key, stored with `llm keys set`."""
    folder = tmp_path_factory.mktemp("llm")
    models = [
        {
            "model_id": f"sluicegate-{name}",
            "model_name": name,
            "api_base": gateway.url + "/v1",
            "api_key_name": KEY_NAME,
        }
        for name in ("m", "noretry")
    ]
    (folder / "extra-openai-models.yaml").write_text(yaml.safe_dump(models))
    env = {k: v for k, v in clean_env().items() if not k.startswith("LLM_")}
    # HOME too: nothing may fall back to the real user's ~/.config/io.datasette.llm.
    env |= {"LLM_USER_PATH": str(folder), "HOME": str(folder), "LLM_LOAD_PLUGINS": ""}
    stored = run_llm(env, "keys", "set", KEY_NAME, "--value", ALICE_KEY)
    assert stored.returncode == 0, stored.stderr
    assert KEY_NAME in (folder / "keys.json").read_text()
    return env


def run_llm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llm", *args],
        env=env,
        cwd=Path(env["HOME"]),
        capture_output=True,
        text=True,
        timeout=60,
    )


def prompt(
    env: dict[str, str], model: str, text: str, *options: str
) -> subprocess.CompletedProcess[str]:
    """`llm prompt` to one of the gateway's models, unlogged, with token usage on stderr."""
    return run_llm(env, "prompt", "-m", f"sluicegate-{model}", "--no-log", "-u", *options, text)


@pytest.mark.parametrize("options", [(), ("--no-stream",)], ids=["stream", "no-stream"])
def test_a_prompt_prints_the_whole_answer_and_its_usage(
    llm_env: dict[str, str], mock: MockUpstream, tag: str, options: tuple[str, ...]
) -> None:
    done = prompt(llm_env, "m", f"{tag} #mock chunks=4", *options)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "w0 w1 w2 w3 \n"
    assert re.fullmatch(r"Token usage: [1-9][0-9]* input, 4 output\n", done.stderr), done.stderr
    sent = mock.request(tag)["body"]
    assert sent["model"] == "mock-model" and sent["stream"] is (options == ())


@pytest.mark.parametrize(
    ("fault", "outcome", "message"),
    [
        ("disconnect_after", "fault_disconnect", "stream broke: UpstreamClosed"),
        ("error_event_after", "fault_error_event", "sent an error event: mock upstream error"),
    ],
)
def test_a_stream_broken_mid_way_exits_non_zero_with_the_error(
    llm_env: dict[str, str], mock: MockUpstream, tag: str, fault: str, outcome: str, message: str
) -> None:
    done = prompt(llm_env, "noretry", f"{tag} #mock chunks=6 {fault}=3")
    assert done.returncode == 1, (done.stdout, done.stderr)
    # The text so far was already printed; the error event ends it with a message, not silence.
    assert done.stdout == "w0 w1 w2 "
    # The gateway's error event's message, as is: the whole of stderr.
    assert done.stderr == f"Error: backend 'noretry' {message}\n"
    assert mock.request(tag)["outcome"] == outcome


def test_an_upstream_error_before_the_answer_exits_non_zero(
    llm_env: dict[str, str], tag: str
) -> None:
    done = prompt(llm_env, "noretry", f"{tag} #mock status=500")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr == "Error: Error code: 502 - mock status 500\n"


def test_a_wrong_key_exits_non_zero_with_the_401_message(
    llm_env: dict[str, str], mock: MockUpstream, tag: str
) -> None:
    done = prompt(llm_env, "m", f"{tag} hello", "--key", "sk-not-a-key")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr == "Error: Error code: 401 - Invalid API key.\n"
    assert "sk-not-a-key" not in done.stderr
    assert mock.requests(tag) == []
