"""Dashboard fixtures: one gateway per session (demo backend, so no mock upstream is needed)
with a detail-logging user, and httpx clients signed in or not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from sluicegate.config.schema import GatewayConfig
from support import RunningGateway

if TYPE_CHECKING:
    from .browser import Page

MASTER_KEY = "sk-dashboard-master-test"
SCRIBE_KEY = "sk-dashboard-scribe-key"


def dashboard_config(database_url: str) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "database": {"url": database_url},
            "server": {"master_key": MASTER_KEY},
            "live": {"heartbeat_seconds": 1},
            "backends": [{"name": "demo", "type": "demo", "models": ["demo-echo"]}],
            "models": [
                {
                    "name": "demo-echo",
                    "targets": [{"backend": "demo", "model": "demo-echo"}],
                    "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                }
            ],
            "users": [
                {
                    "name": "scribe",
                    "api_keys": [SCRIBE_KEY],
                    "models": ["*"],
                    "detail_logging": True,
                }
            ],
        }
    )


@pytest.fixture(scope="session")
def dash_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    folder: Path = tmp_path_factory.mktemp("dashboard")
    running = RunningGateway(dashboard_config(f"sqlite+aiosqlite:///{folder}/gateway.db"))
    yield running
    running.stop()


@pytest.fixture
def throttle(dash_gateway: RunningGateway) -> Iterator[object]:
    """The gateway's sign-in throttle, forgotten after the test so others can sign in."""
    throttle = dash_gateway.app.dashboard().throttle
    yield throttle
    throttle.succeeded("127.0.0.1")


def sign_in(client: httpx.Client, key: str = MASTER_KEY) -> httpx.Response:
    return client.post("/dashboard/login", data={"key": key})


@pytest.fixture
def signed_in(dash_gateway: RunningGateway) -> Iterator[tuple[httpx.Client, str]]:
    """A client holding a session cookie, and the session's CSRF token (read from the shell)."""
    with httpx.Client(base_url=dash_gateway.url, timeout=30) as client:
        response = sign_in(client)
        assert response.status_code == 303, response.text
        shell = client.get("/dashboard")
        assert shell.status_code == 200
        csrf = shell.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        yield client, csrf


@pytest.fixture(scope="session")
def page(dash_gateway: RunningGateway) -> Iterator[Page]:
    """One headless Chromium for every browser test, on the session's gateway."""
    from .browser import Page, start_browser

    driver = start_browser()
    try:
        yield Page(driver, dash_gateway.url)
    finally:
        driver.quit()


@pytest.fixture
def browser(page: Page) -> Page:
    """The browser, signed in, at the laptop size."""
    from .browser import LAPTOP

    page.driver.set_window_size(*LAPTOP)
    page.ensure_signed_in()
    return page
