"""The topology (tests/topology/cluster.py), started once for the tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import MockUpstream
from topology.cluster import Topology


@pytest.fixture(scope="session")
def topology(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    running = Topology(tmp_path_factory.mktemp("topology"), mock.url)
    yield running
    running.stop()


@pytest.fixture
def topo(topology: Topology) -> Topology:
    """The topology with every process up (a previous test may have killed or stopped one)."""
    topology.ensure_up()
    return topology
