"""The `sluicegate` command: parses arguments and delegates; no behaviour of its own."""

from __future__ import annotations

import ipaddress
import os
import sys
import tempfile
from pathlib import Path

import click

from . import __version__
from .app import CONFIG_ENV
from .auth.keys import generate_key
from .config import ConfigError, check_config, load_config

KEY_FILE = Path("sluicegate.key")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_or_create_master_key(path: Path) -> tuple[str, bool]:
    """The key kept in `path` (mode 0600), created on first use. Returns (key, created)."""
    try:
        key = path.read_text().strip()
        if key:
            return key, False
    except FileNotFoundError:
        pass
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)
    return key, True


@click.group()
@click.version_option(__version__, prog_name="sluicegate")
def main() -> None:
    """sluicegate: an OpenAI-compatible LLM gateway."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML config file; without it the embedded defaults are used.",
)
@click.option("--host", default=None, help="Bind address (default: server.host).")
@click.option("--port", type=int, default=None, help="Port (default: server.port, 4000).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
def serve(config_path: str | None, host: str | None, port: int | None, workers: int) -> None:
    """Run the gateway."""
    import uvicorn

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _print_problems(config_path or "embedded defaults", exc.problems)
        sys.exit(1)
    host = host or config.server.host
    port = config.server.port if port is None else port
    master_key = config.server.master_key
    if not master_key:
        if not _is_loopback(host):
            click.echo(
                f"sluicegate: refusing to bind {host} without a master key; set "
                "server.master_key or SLUICEGATE_MASTER_KEY, or bind 127.0.0.1.",
                err=True,
            )
            sys.exit(2)
        master_key, created = load_or_create_master_key(KEY_FILE)
        os.environ["SLUICEGATE_MASTER_KEY"] = master_key
        _banner(host, port, master_key, created)
    else:
        click.echo(f"sluicegate {__version__} listening on http://{host}:{port}")
    os.environ[CONFIG_ENV] = str(Path(config_path).resolve()) if config_path else ""
    if workers > 1:
        # Every worker writes its metric values here; a scrape of any worker sums them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sluicegate-metrics-")
    uvicorn.run(
        "sluicegate.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="info",
    )


def _banner(host: str, port: int, key: str, created: bool) -> None:
    where = "created and saved in" if created else "read from"
    url = f"http://{host}:{port}"
    click.echo(
        f"sluicegate {__version__} listening on {url} (loopback only: no master key configured)\n"
        f"master key ({where} ./{KEY_FILE}): {key}\n"
        "try it:\n"
        f"  curl {url}/v1/chat/completions -H 'Authorization: Bearer {key}' "
        "-H 'content-type: application/json' "
        """-d '{"model": "demo-echo", "messages": [{"role": "user", "content": "hello there"}]}'"""
    )


@main.command("check-config")
@click.argument("path", type=click.Path(dir_okay=False))
def check_config_command(path: str) -> None:
    """Validate a config file; print every problem with its path (exit 1 on error)."""
    problems, warnings = check_config(path)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if problems:
        _print_problems(path, problems)
        sys.exit(1)
    config = load_config(path)
    click.echo(
        f"{path}: OK ({len(config.backends)} backends, {len(config.models)} models, "
        f"{len(config.users)} users)"
    )


def _print_problems(source: str, problems: list[str]) -> None:
    click.echo(f"{source}: {len(problems)} problem(s)", err=True)
    for problem in problems:
        click.echo(f"  {problem}", err=True)


@main.command("mock-upstream")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8001, show_default=True)
def mock_upstream(host: str, port: int) -> None:
    """Run the fault-injecting OpenAI-compatible mock upstream (see docs/mock-upstream.md)."""
    from .mock.upstream import run

    run(host, port)
