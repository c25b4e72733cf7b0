"""The `mesascope` command line: the operator commands (serve, worker, keys, migrate) here,
the client commands from `service.client.cli`."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from service.client.cli import app as client_app
from service.core.logging import configure_logging

app = typer.Typer(help="mesascope: what is this agent optimising for?", no_args_is_help=True)
QUEUE_MAX_DELAY = 0.25
"""Longest pause (s) between an idle worker's queue polls (Huey backs off up to it): a job waits
at most this long to be picked up, at 4 cheap queries a second per idle worker."""
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(client_app)
app.add_typer(keys_app, name="keys")


def _migrate() -> None:
    from service.core.db import migrate
    from service.core.settings import get_settings

    migrate(get_settings().database_url)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (`alembic upgrade head`)."""
    configure_logging()
    _migrate()
    typer.echo("database schema is up to date")


@app.command()
def doctor() -> None:
    """Check configuration, database, schema, queue, workers and jobs; say what is wrong."""
    from rich.console import Console
    from rich.table import Table

    from service.core.settings import get_settings
    from service.ops.doctor import diagnose

    checks = diagnose(get_settings())
    table = Table(title="mesascope doctor")
    for column in ("check", "status", "detail", "what to do"):
        table.add_column(column, overflow="fold")
    colours = {"ok": "green", "warning": "yellow", "error": "red"}
    for check in checks:
        status = f"[{colours[check.status]}]{check.status}[/]"
        table.add_row(check.name, status, check.detail, check.hint)
    Console().print(table)
    if any(check.status == "error" for check in checks):
        raise typer.Exit(1)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")],
    project: Annotated[str, typer.Option(help="The project the key belongs to.")] = "default",
    admin: Annotated[bool, typer.Option(help="An admin key.")] = False,
    expires_in_days: Annotated[
        float | None, typer.Option(min=0.0, help="Stop accepting the key after this many days.")
    ] = None,
) -> None:
    """Create an API key and print it alone on stdout."""
    from service.auth.service import create_key
    from service.core.db import unit_of_work
    from service.core.settings import get_settings

    _migrate()
    with unit_of_work(get_settings()) as uow:
        key = create_key(
            uow.session, name=name, project=project, admin=admin, expires_in_days=expires_in_days
        )
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    project: Annotated[
        str | None, typer.Option(help="Only this project's keys (default: every project).")
    ] = None,
) -> None:
    """List keys (id, project, name, admin, created, expires, revoked); never their secrets."""
    from service.auth.service import list_keys
    from service.core.db import unit_of_work
    from service.core.settings import get_settings

    _migrate()
    with unit_of_work(get_settings()) as uow:
        keys = [k for k in list_keys(uow.session, None) if project in (None, k.project)]
    typer.echo("id\tproject\tname\tadmin\tcreated\texpires\trevoked")
    for k in keys:
        cells = (k.id, k.project, k.name, "admin" if k.is_admin else "-", k.created_at)
        ends = (k.expires_at or "-", k.revoked_at or "-")
        typer.echo("\t".join(str(c) for c in (*cells, *ends)))


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (`keys list`).")]) -> None:
    """Revoke a key: API calls with it get 401 and its dashboard sessions end at once."""
    from service.auth.service import revoke_key
    from service.core.db import unit_of_work
    from service.core.settings import get_settings

    _migrate()
    with unit_of_work(get_settings()) as uow:
        found = revoke_key(uow.session, key_id)
    if not found:
        typer.echo(f"no key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def _first_admin_key() -> str | None:
    """Create an admin key when the database has none (first start). Under the migration
    lock: `serve` processes started together on an empty database create one key, not one each."""
    from service.auth import repository
    from service.auth.service import create_key
    from service.core.db import migration_lock, unit_of_work
    from service.core.settings import get_settings

    settings = get_settings()
    with migration_lock(settings.database_url), unit_of_work(settings) as uow:
        if repository.count_keys(uow.session):
            return None
        return create_key(uow.session, name="admin (first start)", admin=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=0, help="Worker processes to start.")] = 2,
) -> None:
    """Migrate the database, then run the API and N worker processes."""
    import uvicorn

    from service.app import create_app
    from service.core.supervise import Supervisor
    from service.inferences.tasks import start_reaper

    configure_logging()
    _migrate()
    key = _first_admin_key()
    supervisor = None
    if workers:
        supervisor = Supervisor(
            [sys.executable, "-m", "service", "worker", "--concurrency", str(workers)]
        )
        supervisor.start()
    start_reaper()  # here too: jobs are reaped while any worker process is down
    url = f"http://{host}:{port}"
    typer.echo(f"mesascope is listening on {url}  (API docs: {url}/docs)", err=True)
    if key:
        typer.echo(f"first start: created an admin API key (shown once): {key}", err=True)
    try:
        # Uvicorn logs through our JSON handler; requests are logged by RequestContext.
        uvicorn.run(
            create_app(), host=host, port=port, log_level="info", log_config=None, access_log=False
        )
    finally:
        if supervisor is not None:
            supervisor.stop()


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
) -> None:
    """Run job workers (and the lease reaper) against the configured database and queue.
    Writes a heartbeat to the database (`/readyz` reads it); started by `serve`, it dies
    with `serve`, and so do its worker processes with it."""
    from service.core.settings import get_settings
    from service.core.supervise import PARENT_ENV, die_with_supervisor

    die_with_supervisor()
    settings = get_settings()
    os.environ.setdefault("OMP_NUM_THREADS", str(settings.torch_threads))
    configure_logging()
    _migrate()
    # torch and the science load here, once, before huey forks the worker processes.
    import service.inferences.compute
    import service.inferences.tasks  # noqa: F401  (registers the task and worker hooks)
    from service.core.queue import huey

    # Huey forks the worker processes below: this process starts no threads (a thread inside
    # SQLite or SQLAlchemy at the fork leaves the children deadlocked on its locks). Each
    # worker process starts its own heartbeat and reaper (service.inferences.tasks).
    # Every process huey forks (its workers and its scheduler) dies with this one, even when
    # this one is SIGKILLed: the death signal is set in each child right after the fork.
    os.environ[PARENT_ENV] = str(os.getpid())
    os.register_at_fork(after_in_child=die_with_supervisor)
    consumer = huey.create_consumer(
        workers=concurrency,
        worker_type="process",
        periodic=False,
        check_worker_health=True,
        health_check_interval=1,
        max_delay=QUEUE_MAX_DELAY,
    )
    consumer.run()
