"""User hooks from the config: `before` can refuse, `after` sees every request exactly once."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sluicegate.config.schema import GatewayConfig
from sluicegate.hooks.loader import HookLoadError, load_hook
from support import MASTER_KEY, MockUpstream, RunningGateway, wait_until

HOOK_MODULE = """
from sluicegate.errors import InvalidRequest
from sluicegate.hooks.base import Hook

SEEN = []

class Audit(Hook):
    def __init__(self, banned_word):
        self.banned_word = banned_word

    async def before(self, info):
        if self.banned_word in info.request_id:
            raise InvalidRequest("refused by the audit hook")

    def after(self, completion):
        SEEN.append((completion.request_id, completion.status_code, completion.error_type))
"""


@pytest.fixture(scope="module")
def hooked(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, list[tuple[str, int, str | None]]]]:
    folder = tmp_path_factory.mktemp("hooks")
    (folder / "audit_hook_mod.py").write_text(textwrap.dedent(HOOK_MODULE))
    sys.path.insert(0, str(folder))
    import audit_hook_mod

    config = GatewayConfig.model_validate(
        {
            "server": {"master_key": MASTER_KEY},
            "backends": [{"name": "mock", "type": "openai", "base_url": mock.url + "/v1"}],
            "models": [{"name": "m", "targets": [{"backend": "mock", "model": "mock-model"}]}],
            "hooks": [{"class": "audit_hook_mod:Audit", "options": {"banned_word": "forbidden"}}],
        }
    )
    running = RunningGateway(config)
    yield running, audit_hook_mod.SEEN
    running.stop()
    sys.path.remove(str(folder))


def post(gateway: RunningGateway, request_id: str, model: str = "m") -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        timeout=20,
        headers={"authorization": f"Bearer {MASTER_KEY}", "x-request-id": request_id},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
    )


def test_after_runs_once_for_every_way_a_request_ends(hooked, tag: str) -> None:
    gateway, seen = hooked
    assert post(gateway, f"{tag}-ok").status_code == 200
    assert post(gateway, f"{tag}-missing", model="nope").status_code == 404
    unauthorized = httpx.post(
        gateway.url + "/v1/chat/completions", json={}, headers={"x-request-id": f"{tag}-401"}
    )
    assert unauthorized.status_code == 401
    wait_until(lambda: len([s for s in seen if s[0].startswith(tag)]) == 3)
    assert sorted(s for s in seen if s[0].startswith(tag)) == [
        (f"{tag}-401", 401, "auth_error"),
        (f"{tag}-missing", 404, "model_not_found"),
        (f"{tag}-ok", 200, None),
    ]


def test_before_can_refuse_a_request(hooked, tag: str) -> None:
    gateway, seen = hooked
    response = post(gateway, f"{tag}-forbidden")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "refused by the audit hook"
    wait_until(lambda: (f"{tag}-forbidden", 400, "invalid_request") in seen)


def test_bad_hook_specs_are_reported(tmp_path: Path) -> None:
    with pytest.raises(HookLoadError, match="cannot import"):
        load_hook("no_such_module_xyz:Hook", {})
    with pytest.raises(HookLoadError, match="must subclass"):
        load_hook("pathlib:Path", {})
