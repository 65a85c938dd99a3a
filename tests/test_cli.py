"""The `sluicegate` console script as users run it: real subprocesses, real ports, a temp cwd."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from support import clean_env, free_port, sluicegate, wait_for_http, wait_until

VALID = """\
server:
  master_key: sk-test-master
backends:
  - name: openai
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: sk-upstream
models:
  - name: fast
    targets:
      - {backend: openai, model: gpt-4o-mini}
users:
  - name: ci-bot
    api_keys: [sk-ci]
    models: ["fast"]
"""


@contextmanager
def running(*args: str, cwd: Path, output: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`sluicegate ARGS` in the background, stdout and stderr in `output`; always stopped."""
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "sluicegate", *args],
            cwd=cwd,
            env=clean_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(15)


# check-config


def test_check_config_ok(tmp_path: Path) -> None:
    path = tmp_path / "sluicegate.yaml"
    path.write_text(VALID)
    result = sluicegate("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_names_an_unknown_backend_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "sluicegate.yaml"
    path.write_text(VALID.replace("{backend: openai,", "{backend: opnai,"))
    result = sluicegate("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 1
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()]
    assert "models[0].targets[0].backend: unknown backend 'opnai'" in lines
    assert "OK" not in result.stdout


def test_check_config_rejects_an_unknown_key_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "sluicegate.yaml"
    path.write_text(VALID.replace("    api_key: sk-upstream\n", "    api_kee: sk-upstream\n"))
    result = sluicegate("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "backends[0].api_kee" in output
    assert "unknown key" in output


def test_check_config_reports_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "sluicegate.yaml"
    broken = VALID.replace("{backend: openai,", "{backend: opnai,").replace(
        "  master_key:", "  master_kee:"
    )
    path.write_text(broken)
    result = sluicegate("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "models[0].targets[0].backend: unknown backend 'opnai'" in output
    assert "server.master_kee" in output


def test_check_config_missing_file(tmp_path: Path) -> None:
    result = sluicegate("check-config", str(tmp_path / "absent.yaml"), cwd=tmp_path)
    assert result.returncode != 0
    assert "absent.yaml" in result.stdout + result.stderr


# serve


def test_serve_refuses_a_public_address_without_a_master_key(tmp_path: Path) -> None:
    result = sluicegate("serve", "--host", "0.0.0.0", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2
    assert "master key" in (result.stdout + result.stderr).lower()
    assert not (tmp_path / "sluicegate.key").exists()


BANNER_KEY = re.compile(r"master key \(([^)]*)\): (\S+)")


def start_and_read_banner(tmp_path: Path, port: int, output: Path) -> tuple[str, str]:
    """Wait for the banner and /health; return (the banner text, the master key)."""
    wait_until(lambda: BANNER_KEY.search(output.read_text()), timeout=30)
    wait_for_http(f"http://127.0.0.1:{port}/health", timeout=30)
    banner = output.read_text()
    found = BANNER_KEY.search(banner)
    assert found is not None
    return banner, found.group(2)


def ask_demo(port: int, key: str, text: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        json={"model": "demo-echo", "messages": [{"role": "user", "content": text}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_serve_without_config_creates_a_master_key_and_serves_the_demo(tmp_path: Path) -> None:
    port = free_port()
    first_output = tmp_path / "first.log"
    with running("serve", "--port", str(port), cwd=tmp_path, output=first_output) as process:
        banner, key = start_and_read_banner(tmp_path, port, first_output)
        assert process.poll() is None
        assert f"127.0.0.1:{port}" in banner
        curl = next(line for line in banner.splitlines() if "curl " in line)
        assert f"http://127.0.0.1:{port}/v1/chat/completions" in curl
        assert f"Bearer {key}" in curl
        assert "demo-echo" in curl
        dashboard = next(line for line in banner.splitlines() if line.startswith("dashboard:"))
        assert f"http://127.0.0.1:{port}/dashboard " in dashboard
        login = httpx.get(f"http://127.0.0.1:{port}/dashboard/login", timeout=30)
        assert login.status_code == 200

        key_file = tmp_path / "sluicegate.key"
        assert key_file.read_text().strip() == key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

        response = ask_demo(port, key, "hello from the cli test")
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "hello from the cli test"
        assert ask_demo(port, "sk-wrong", "hi").status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=30).status_code == 200

    second_output = tmp_path / "second.log"
    with running("serve", "--port", str(port), cwd=tmp_path, output=second_output) as process:
        _, second_key = start_and_read_banner(tmp_path, port, second_output)
        assert second_key == key
        assert stat.S_IMODE((tmp_path / "sluicegate.key").stat().st_mode) == 0o600
        response = ask_demo(port, key, "again")
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "again"


def test_serve_with_a_config_file_uses_its_master_key(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "sluicegate.yaml"
    config.write_text(
        "server:\n  master_key: sk-from-file\n"
        "backends:\n  - {name: demo, type: demo, models: [demo-echo]}\n"
        "models:\n  - name: echo\n    targets: [{backend: demo, model: demo-echo}]\n"
    )
    output = tmp_path / "serve.log"
    args = ("serve", "--config", str(config), "--port", str(port))
    with running(*args, cwd=tmp_path, output=output):
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=30)
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": "configured"}]},
            headers={"authorization": "Bearer sk-from-file"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "configured"
    assert not (tmp_path / "sluicegate.key").exists()
    assert "sk-from-file" not in output.read_text()


# mock-upstream


def test_mock_upstream_answers_health(tmp_path: Path) -> None:
    port = free_port()
    output = tmp_path / "mock.log"
    with running("mock-upstream", "--port", str(port), cwd=tmp_path, output=output):
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=30)
        response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).json()
        assert "mock-model" in [m["id"] for m in models["data"]]


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["--version"]])
def test_help_and_version(tmp_path: Path, args: list[str]) -> None:
    result = sluicegate(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout
