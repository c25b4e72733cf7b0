"""API keys: 401 without one, and a key sees only its own project's rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from service import cli
from service.auth.service import authenticate, create_key
from service.core.db import unit_of_work
from service.core.settings import Settings, get_settings
from tests.service.conftest import new_key
from tests.service.data import corridor_environment


async def test_missing_key_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/environments", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_wrong_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/rollouts", headers={"Authorization": "Bearer msk_nope"})
    assert response.status_code == 401
    assert "invalid" in response.json()["detail"]


async def test_other_projects_rows_are_invisible(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await client.post("/v1/environments", json=corridor_environment())
    env_id = created.json()["id"]
    other = {"Authorization": f"Bearer {new_key(settings)}"}
    assert (await client.get(f"/v1/environments/{env_id}", headers=other)).status_code == 404
    listing = await client.get("/v1/environments", headers=other)
    assert listing.json()["items"] == []
    assert (await client.get(f"/v1/environments/{env_id}")).status_code == 200


async def test_healthz_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Authorization": ""})
    assert response.json() == {"status": "ok"}


def admin_key(settings: Settings, project: str) -> str:
    with unit_of_work(settings) as uow:
        return create_key(uow.session, name="ops", project=project, admin=True)


async def test_admins_list_and_revoke_their_projects_keys(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    project = f"p-{uuid.uuid4().hex}"
    admin = {"Authorization": f"Bearer {admin_key(settings, project)}"}
    member = new_key(settings, project)
    new_key(settings)  # another project's key stays invisible
    listing = await client.get("/v1/keys", headers=admin)
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert len(items) == 2 and {k["project"] for k in items} == {project}
    assert member not in listing.text and not any("hash" in field for field in items[0])
    member_id = next(k["id"] for k in items if not k["is_admin"])
    as_member = {"Authorization": f"Bearer {member}"}
    assert (await client.get("/v1/keys", headers=as_member)).status_code == 403
    assert (await client.delete(f"/v1/keys/{member_id}")).status_code == 403
    assert (await client.delete(f"/v1/keys/{member_id}", headers=admin)).status_code == 204
    assert (await client.get("/v1/rollouts", headers=as_member)).status_code == 401
    revoked = (await client.get("/v1/keys", headers=admin)).json()["items"]
    assert next(k for k in revoked if k["id"] == member_id)["revoked_at"] is not None


async def test_admins_cannot_revoke_other_projects_keys(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = {"Authorization": f"Bearer {admin_key(settings, f'p-{uuid.uuid4().hex}')}"}
    other = new_key(settings)
    with unit_of_work(settings) as uow:
        other_id = authenticate(uow.session, other).key_id  # type: ignore[union-attr]
    assert (await client.delete(f"/v1/keys/{other_id}", headers=admin)).status_code == 404
    response = await client.get("/v1/rollouts", headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 200


async def test_expired_keys_are_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    with unit_of_work(settings) as uow:
        expired = create_key(uow.session, name="old", project="p-x", expires_in_days=-1)
        fresh = create_key(uow.session, name="new", project="p-x", expires_in_days=30)
    assert (
        await client.get("/v1/rollouts", headers={"Authorization": f"Bearer {expired}"})
    ).status_code == 401
    assert (
        await client.get("/v1/rollouts", headers={"Authorization": f"Bearer {fresh}"})
    ).status_code == 200


def test_cli_lists_and_revokes_keys(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESASCOPE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MESASCOPE_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        project = f"p-{uuid.uuid4().hex}"
        created = runner.invoke(
            cli.app,
            ["keys", "create", "--name", "ci", "--project", project, "--expires-in-days", "7"],
        )
        assert created.exit_code == 0, created.output
        key = created.output.strip()
        listed = runner.invoke(cli.app, ["keys", "list", "--project", project])
        assert listed.exit_code == 0 and key not in listed.output
        row = listed.output.splitlines()[1].split("\t")
        assert row[1:3] == [project, "ci"] and row[5] != "-" and row[6] == "-"
        revoked = runner.invoke(cli.app, ["keys", "revoke", row[0]])
        assert revoked.exit_code == 0, revoked.output
        with unit_of_work(settings) as uow:
            assert authenticate(uow.session, key) is None
        assert runner.invoke(cli.app, ["keys", "revoke", "key_000"]).exit_code == 1
    finally:
        get_settings.cache_clear()


async def test_a_key_revoked_by_another_process_is_refused_within_the_cache_time(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Active keys are remembered for KEY_CACHE_SECONDS; a revocation this process did not make
    (the CLI, another API process: here the repository, behind the cache's back) holds after it."""
    import asyncio

    from service.auth import repository, service
    from service.core.models import utcnow

    monkeypatch.setattr(service, "KEY_CACHE_SECONDS", 0.3)
    key = new_key(settings)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/rollouts", headers=headers)).status_code == 200
    with unit_of_work(settings) as uow:
        key_id = authenticate(uow.session, key).key_id  # type: ignore[union-attr]
        assert repository.revoke_key(uow.session, key_id, None, utcnow())
    await asyncio.sleep(0.4)
    assert (await client.get("/v1/rollouts", headers=headers)).status_code == 401


def counted_lookups(monkeypatch: pytest.MonkeyPatch, module: Any) -> Callable[[], int]:
    """Count the database key lookups (`authenticate` calls) `module` makes from now on."""
    calls = 0
    real = module.authenticate

    def counted(session: object, key: str) -> object:
        nonlocal calls
        calls += 1
        return real(session, key)

    monkeypatch.setattr(module, "authenticate", counted)
    return lambda: calls


async def test_a_burst_with_one_uncached_key_looks_it_up_once(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests arriving together with a key the process has not seen lately wait for one
    lookup instead of making one each; a wrong key is still refused for every request."""
    import asyncio

    from service.auth import gate

    lookups = counted_lookups(monkeypatch, gate)
    headers = {"Authorization": f"Bearer {new_key(settings)}"}
    answers = await asyncio.gather(
        *(client.get("/v1/rollouts", headers=headers) for _ in range(20))
    )
    assert [a.status_code for a in answers] == [200] * 20
    assert lookups() == 1
    wrong = {"Authorization": "Bearer msk_not_a_key_of_this_service"}
    answers = await asyncio.gather(*(client.get("/v1/rollouts", headers=wrong) for _ in range(5)))
    assert [a.status_code for a in answers] == [401] * 5


async def test_dashboard_pages_trust_a_bearer_key_for_the_cache_time_only(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dashboard pages (which the gate does not check) look a bearer key up once per cache
    time, not once per page, and refuse it once revoked behind the cache's back."""
    import asyncio

    from service.auth import dependencies, repository, service
    from service.core.models import utcnow

    monkeypatch.setattr(service, "KEY_CACHE_SECONDS", 0.3)
    lookups = counted_lookups(monkeypatch, dependencies)
    key = new_key(settings)
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(5):
        assert (await client.get("/", headers=headers)).status_code == 200
    assert lookups() == 1
    with unit_of_work(settings) as uow:
        key_id = authenticate(uow.session, key).key_id  # type: ignore[union-attr]
        assert repository.revoke_key(uow.session, key_id, None, utcnow())
    await asyncio.sleep(0.4)
    assert (await client.get("/", headers=headers)).status_code == 401
