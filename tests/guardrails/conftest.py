"""The gateway of this folder's tests is a guarded one (see `harness.py`): `gateway` is
overridden here, so the root conftest's `http` and `client` fixtures talk to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import MockUpstream, RunningGateway

from .harness import guarded_config


@pytest.fixture(scope="package")
def gateway(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    running = RunningGateway(guarded_config(mock.url, tmp_path_factory.mktemp("guarded")))
    yield running
    running.stop()
