"""The `sluicegate` command: parses arguments and delegates; no behaviour of its own."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .app import CONFIG_ENV
from .auth.keys import display_prefix, generate_key, hash_key
from .config import ConfigError, GatewayConfig, check_config, import_litellm, load_config

T = TypeVar("T")

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
@click.option(
    "--stop-with-parent",
    is_flag=True,
    help="Drain and exit when the parent process exits (Linux; `make serve` uses it).",
)
def serve(
    config_path: str | None,
    host: str | None,
    port: int | None,
    workers: int,
    stop_with_parent: bool,
) -> None:
    """Run the gateway (SIGTERM/SIGINT: drain, then exit 0)."""
    from .server import run

    warnings: list[str] = []
    try:
        config = load_config(config_path, warnings=warnings)
    except ConfigError as exc:
        _print_problems(config_path or "embedded defaults", exc.problems)
        sys.exit(1)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if config.telemetry.otlp_endpoint:
        from .hooks.telemetry import TelemetryUnavailable, load_traces_module

        try:
            load_traces_module()
        except TelemetryUnavailable as exc:
            click.echo(f"sluicegate: {exc}", err=True)
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
        click.echo(f"dashboard: http://{host}:{port}/dashboard (sign in with the master key)")
    os.environ[CONFIG_ENV] = str(Path(config_path).resolve()) if config_path else ""
    if workers > 1:
        # Every worker writes its metric values here; a scrape of any worker sums them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sluicegate-metrics-")
    run.serve(config, host, port, workers, stop_with_parent)


def _banner(host: str, port: int, key: str, created: bool) -> None:
    where = "created and saved in" if created else "read from"
    url = f"http://{host}:{port}"
    click.echo(
        f"sluicegate {__version__} listening on {url} (loopback only: no master key configured)\n"
        f"master key ({where} ./{KEY_FILE}): {key}\n"
        f"dashboard: {url}/dashboard (sign in with the master key)\n"
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


@main.command("import-litellm")
@click.argument("path", type=click.Path(dir_okay=False))
def import_litellm_command(path: str) -> None:
    """Print the sluicegate config equivalent to a LiteLLM proxy config, with every LiteLLM
    key it could not map as a comment (exit 1 if the file cannot be mapped)."""
    try:
        click.echo(import_litellm(path), nl=False)
    except ConfigError as exc:
        _print_problems(path, exc.problems)
        sys.exit(1)


def _print_problems(source: str, problems: list[str]) -> None:
    click.echo(f"{source}: {len(problems)} problem(s)", err=True)
    for problem in problems:
        click.echo(f"  {problem}", err=True)


# Database commands ---------------------------------------------------------------------------

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML config file naming the database; without it the embedded defaults "
    "(./sluicegate.db) are used.",
)


class CommandFailed(Exception):
    """A refusal with a message for the user (exit 1), not a bug."""


def _load_or_exit(config_path: str | None) -> GatewayConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        _print_problems(config_path or "embedded defaults", exc.problems)
        sys.exit(1)


def _shown_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _run_db(url: str, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `work` on a fresh event loop; database failures exit 1 with one clear line."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from .storage.db import Conflict, StorageUnavailable

    where = _shown_url(url)
    try:
        return asyncio.run(work())
    except CommandFailed as exc:
        click.echo(f"sluicegate: {exc}", err=True)
    except StorageUnavailable as exc:
        click.echo(f"sluicegate: database {where} is unreachable: {exc}", err=True)
    except Conflict as exc:
        click.echo(f"sluicegate: database {where} refused the change: {exc}", err=True)
    except CommandError as exc:
        click.echo(f"sluicegate: cannot migrate database {where}: {exc}", err=True)
    except (SQLAlchemyError, ImportError) as exc:
        # A malformed URL, a driver that is not installed, an unexpected database error.
        click.echo(f"sluicegate: database {where}: {type(exc).__name__}: {exc}", err=True)
    sys.exit(1)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@CONFIG_OPTION
def db_upgrade(config_path: str | None) -> None:
    """Apply the schema migrations to the configured database (also done at every start).

    Safe to run while gateways are running and from several places at once; a database
    already at the newest revision is left unchanged.
    """
    from .storage.migrate import current_revision, upgrade

    url = _load_or_exit(config_path).database.url

    async def work() -> tuple[str | None, str | None]:
        before = await current_revision(url)
        await upgrade(url)
        return before, await current_revision(url)

    before, after = _run_db(url, work)
    where = _shown_url(url)
    if before == after:
        click.echo(f"{where}: already at revision {after} (head)")
    else:
        click.echo(
            f"{where}: upgraded from {before or 'an empty database'} to revision {after} (head)"
        )


@main.group()
def keys() -> None:
    """API key commands."""


@keys.command("create")
@click.option("--user", "user_name", required=True, help="User name; created if unknown.")
@click.option(
    "--models",
    "models",
    multiple=True,
    metavar="GLOB",
    help='Model name glob the user may call (repeatable; "*" = all). Sets the list of a '
    "new user, replaces it for an existing one. A user without models can call nothing.",
)
@click.option("--rpm", type=click.IntRange(min=0), default=None, help="Requests per minute.")
@click.option("--tpm", type=click.IntRange(min=0), default=None, help="Tokens per minute.")
@CONFIG_OPTION
def keys_create(
    user_name: str,
    models: tuple[str, ...],
    rpm: int | None,
    tpm: int | None,
    config_path: str | None,
) -> None:
    """Create an API key for a user and print it once (it is stored only as a hash).

    The user is created when unknown (source "api", no models unless --models is given); for
    an existing API user, --models/--rpm/--tpm update it. Users of the config file are changed
    in the file: only keys can be added to them here. Running gateways accept the new key
    within about a second. The key is the last line on stdout; notes go to stderr.
    """
    from .storage import catalog
    from .storage.db import Conflict, Database
    from .storage.migrate import upgrade

    config = _load_or_exit(config_path)
    url = config.database.url
    in_file = {user.name: user for user in config.users}
    changes: dict[str, Any] = {
        name: value for name, value in (("rpm", rpm), ("tpm", tpm)) if value is not None
    }
    if models:
        changes["models"] = list(models)

    async def find_user(database: Database) -> dict[str, Any] | None:
        return next((u for u in await catalog.list_users(database) if u["name"] == user_name), None)

    async def work() -> tuple[str, dict[str, Any], list[str]]:
        await upgrade(url)
        database = Database(url)
        notes: list[str] = []
        try:
            user = await find_user(database)
            from_file = user_name in in_file or (user is not None and user["source"] == "config")
            if from_file and changes:
                raise CommandFailed(
                    f"user {user_name!r} is defined in the config file; change its "
                    f"{'/'.join(sorted(changes))} there (then POST /admin/reload or "
                    "restart). Without those options a key can still be added to it."
                )
            if user is None:
                if user_name in in_file:
                    from .storage.config_sync import user_values

                    values = user_values(in_file[user_name])
                    source = "config"
                else:
                    values = {"name": user_name, "models": [], **changes}
                    source = "api"
                try:
                    user = await catalog.create_user(database, values, source=source)
                    notes.append(f"created user {user_name!r}")
                except Conflict:  # created meanwhile by someone else
                    user = await find_user(database)
                    if user is None:
                        raise
            elif changes:
                user = await catalog.update_user(database, user["id"], changes) or user
                shown = ", ".join(f"{k} {v}" for k, v in changes.items())
                notes.append(f"updated user {user_name!r}: {shown}")
            key = generate_key()
            await catalog.create_key(
                database, user["id"], hash_key(key).hex(), display_prefix(key), source="api"
            )
            return key, user, notes
        finally:
            await database.close()

    key, user, notes = _run_db(url, work)
    for note in notes:
        click.echo(note, err=True)
    if not user.get("models"):
        click.echo(
            f"warning: user {user_name!r} has no models: its keys are refused for every model "
            "until some are granted (--models GLOB, or the admin API).",
            err=True,
        )
    click.echo(
        f"new API key for user {user_name!r} ({display_prefix(key)}); it is shown only this once:",
        err=True,
    )
    click.echo(key)


@main.command("mock-upstream")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8001, show_default=True)
def mock_upstream(host: str, port: int) -> None:
    """Run the fault-injecting OpenAI-compatible mock upstream (see docs/mock-upstream.md)."""
    from .mock.upstream import run

    run(host, port)
