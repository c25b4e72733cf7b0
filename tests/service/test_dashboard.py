"""The dashboard pages in-process: login and sessions, CSRF, isolation, lists and pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from service.app import create_app
from service.auth.service import (
    SESSION_COOKIE,
    authenticate,
    revoke_key,
    session_secret,
    sign_session,
)
from service.core.db import unit_of_work
from service.core.models import Inference
from service.core.settings import Settings
from service.dashboard.base import number
from service.inferences import repository as inferences_repository
from tests.service.conftest import Queue, new_key
from tests.service.data import corridor_rollouts

STATIC = Path(__file__).resolve().parents[2] / "service" / "dashboard" / "static"
VERDICTS = ("generalises", "capability_failure", "goal_misgeneralization", "inconclusive")


class Page(HTMLParser):
    """The bits of a page the tests look at: headings, controls, labels, forms and links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.forms: list[dict[str, Any]] = []
        self.links: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
        elif tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        elif tag == "form":
            self.forms.append({**a, "fields": {}})
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "input" and a.get("type") == "hidden" and self.forms:
            self.forms[-1]["fields"][a.get("name", "")] = a.get("value", "")


def csrf_of(html: str) -> str:
    """The CSRF token of the page's forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def assert_accessible(html: str) -> None:
    """Every visible control is labelled; headings start at h1 and never skip a level."""
    page = Page(html)
    for control in page.controls:
        assert control.get("id") in page.label_for or control.get("aria-label"), control
    assert page.headings and page.headings[0] == 1, page.headings
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, page.headings


@pytest.fixture
async def anonymous(settings: Settings, queue: Queue) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials, like a browser before logging in."""
    app = create_app(settings, enqueue=queue, queue_check=lambda: None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        yield c


async def log_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    """Log in through the form, as a browser does."""
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    return await client.post("/login", data={"key": key, "csrf_token": token.group(1), "next": "/"})


async def rollouts(client: httpx.AsyncClient, **overrides: Any) -> str:
    response = await client.post("/v1/rollouts", json=corridor_rollouts(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def infer(client: httpx.AsyncClient, rollouts_id: str, **fields: Any) -> str:
    body = {"rollouts_id": rollouts_id, "algorithm": "mce_irl", **fields}
    response = await client.post("/v1/inferences", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def set_fields(settings: Settings, inference_id: str, **values: Any) -> None:
    """Put an inference into a state directly (e.g. another verdict)."""
    with unit_of_work(settings) as uow:
        uow.session.execute(update(Inference).where(Inference.id == inference_id).values(**values))


# --- access ------------------------------------------------------------------------------


async def test_login_sets_a_strict_httponly_session(
    anonymous: httpx.AsyncClient, api_key: str
) -> None:
    redirect = await anonymous.get("/")
    assert redirect.status_code == 303 and redirect.headers["location"] == "/login?next=%2F"
    response = await log_in(anonymous, api_key)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert api_key not in cookie
    page = await anonymous.get("/")
    assert page.status_code == 200 and "<h1>Inferences</h1>" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    logout = await anonymous.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert logout.status_code == 303
    anonymous.cookies.clear()
    assert (await anonymous.get("/")).status_code == 303


async def test_login_refuses_bad_keys_and_forged_forms(
    anonymous: httpx.AsyncClient, api_key: str
) -> None:
    assert (await log_in(anonymous, "msk_not-a-key")).status_code == 401
    forged = await anonymous.post("/login", data={"key": api_key, "csrf_token": "x"})
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    away = await anonymous.get("/login", params={"next": "//evil.example/"})
    assert 'name="next" value="/"' in away.text


async def test_forged_and_expired_sessions_are_refused(
    anonymous: httpx.AsyncClient, settings: Settings, api_key: str
) -> None:
    await log_in(anonymous, api_key)
    good = anonymous.cookies[SESSION_COOKIE]
    key_id, expires, nonce, mac = good.split(".")
    tampered = f"key_other.{expires}.{nonce}.{mac}"
    expired = sign_session(session_secret(settings), key_id, now=0)
    for value in (tampered, expired, "garbage"):
        anonymous.cookies.clear()
        anonymous.cookies.set(SESSION_COOKIE, value)
        assert (await anonymous.get("/")).status_code == 303
        live = await anonymous.get("/live", headers={"Accept": "application/json"})
        assert live.status_code == 401


async def test_bearer_keys_work_and_api_stays_bearer_only(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_key: str
) -> None:
    assert (await client.get("/")).status_code == 200
    await log_in(anonymous, api_key)
    assert (await anonymous.get("/v1/inferences")).status_code == 401


async def test_forms_need_the_sessions_csrf_token(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, settings: Settings, api_key: str
) -> None:
    job = await infer(client, await rollouts(client))
    await log_in(anonymous, api_key)
    bearer_token = csrf_of((await client.get(f"/inferences/{job}")).text)
    for token in (None, "0" * 64, bearer_token):
        data = {"csrf_token": token} if token else {}
        refused = await anonymous.post(f"/inferences/{job}/cancel", data=data)
        assert refused.status_code == 403, token
    page = await anonymous.get(f"/inferences/{job}")
    done = await anonymous.post(
        f"/inferences/{job}/cancel", data={"csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 303
    with unit_of_work(settings) as uow:
        row = inferences_repository.get_any(uow.session, job)
        assert row is not None and row.status == "cancelled"


async def test_a_key_sees_only_its_project(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, settings: Settings, queue: Queue
) -> None:
    ro = await rollouts(client)
    job = await infer(client, ro)
    queue.drain()
    other = new_key(settings)
    await log_in(anonymous, other)
    listing = await anonymous.get("/")
    assert job not in listing.text and "No inferences" in listing.text
    for path in (f"/inferences/{job}", f"/rollouts/{ro}", f"/compare?ids={job}&ids={job}x"):
        response = await anonymous.get(path)
        assert response.status_code == 404, path
        assert "goal-seeker" not in response.text
    token = csrf_of(listing.text)
    for action in ("cancel", "delete"):
        response = await anonymous.post(f"/inferences/{job}/{action}", data={"csrf_token": token})
        assert response.status_code == 404
    live = await anonymous.get("/live", params={"ids": job})
    assert live.json() == {"items": []}
    assert job not in (await anonymous.get("/rollouts")).text


# --- the list ----------------------------------------------------------------------------


async def _many(client: httpx.AsyncClient, settings: Settings, n: int) -> list[str]:
    """n inferences on two rollout sets, with verdicts and EPIC set directly."""
    first = await rollouts(client, name="alpha maze", tags={"agent": "a"})
    second = await rollouts(client, name="beta corridor", tags={"agent": "b"})
    ids = []
    for i in range(n):
        job = await infer(client, first if i % 2 else second, seed=i)
        set_fields(
            settings,
            job,
            status="succeeded",
            verdict=VERDICTS[i % 4],
            epic=round(0.01 * i, 3),
            progress=1.0,
        )
        ids.append(job)
    return ids


async def test_list_filters_sorts_and_paginates(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ids = await _many(client, settings, 60)
    first = await client.get("/")
    assert_accessible(first.text)
    shown = re.findall(r'<tr data-id="(inf_\w+)"', first.text)
    assert shown == list(reversed(ids))[:50]
    next_link = re.search(r'href="(/\?cursor=[^"]+)" rel="next"', first.text)
    assert next_link
    second = await client.get(next_link.group(1).replace("&amp;", "&"))
    assert re.findall(r'<tr data-id="(inf_\w+)"', second.text) == list(reversed(ids))[50:]
    assert 'rel="next"' not in second.text

    goal = await client.get("/", params={"verdict": "goal_misgeneralization"})
    assert set(re.findall(r'<tr data-id="(inf_\w+)"', goal.text)) == set(ids[2::4])
    assert 'value="goal_misgeneralization" selected' in goal.text

    text = await client.get("/", params={"q": "ALPHA", "tag": "agent=a"})
    assert set(re.findall(r'<tr data-id="(inf_\w+)"', text.text)) == set(ids[1::2])
    none = await client.get("/", params={"q": "100%_"})
    assert "No inferences match" in none.text

    by_epic = await client.get("/", params={"sort": "epic_asc", "verdict": "generalises"})
    assert re.findall(r'<tr data-id="(inf_\w+)"', by_epic.text) == ids[0::4]
    oldest = await client.get("/", params={"sort": "oldest"})
    ordered = re.findall(r'<tr data-id="(inf_\w+)"', oldest.text)
    assert ordered == ids[:50]
    more = re.search(r'href="(/\?[^"]*cursor=[^"]+)" rel="next"', oldest.text)
    assert more and "sort=oldest" in more.group(1)
    rest = await client.get(more.group(1).replace("&amp;", "&"))
    assert re.findall(r'<tr data-id="(inf_\w+)"', rest.text) == ids[50:]

    assert (await client.get("/", params={"status": "bogus"})).status_code == 422
    assert (await client.get("/", params={"cursor": "nonsense"})).status_code == 422


async def test_live_endpoint_reports_progress(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    job = await infer(client, await rollouts(client))
    set_fields(settings, job, status="running", progress=0.4)
    listing = await client.get("/")
    assert f'<tr data-id="{job}" data-live' in listing.text and "<progress" in listing.text
    live = (await client.get("/live", params={"ids": job})).json()["items"]
    assert live[0]["status"] == "running" and live[0]["progress"] == 0.4


# --- pages -------------------------------------------------------------------------------


async def test_inference_page_for_each_verdict(
    client: httpx.AsyncClient, settings: Settings, queue: Queue
) -> None:
    job = await infer(client, await rollouts(client))
    assert queue.drain() == ["succeeded"]
    page = await client.get(f"/inferences/{job}")
    assert page.status_code == 200
    assert_accessible(page.text)
    for needle in (
        "Feature weights",
        "Distances and returns",
        "IRL training curve",
        "EPIC",
        "Named goals",
        "Named-goal hypotheses, best first",
    ):
        assert needle in page.text, needle
    assert page.text.count("<svg") >= 3
    for verdict in VERDICTS:
        set_fields(settings, job, verdict=verdict)
        shown = await client.get(f"/inferences/{job}")
        assert f'class="badge verdict-{verdict}"' in shown.text


@pytest.mark.parametrize(
    ("status", "expect"),
    [
        ("queued", "Cancel"),
        ("running", "Cancel"),
        ("failed", "The job failed: boom"),
        ("cancelled", "was cancelled"),
    ],
)
async def test_inference_page_for_unfinished_jobs(
    client: httpx.AsyncClient, settings: Settings, status: str, expect: str
) -> None:
    job = await infer(client, await rollouts(client))
    set_fields(settings, job, status=status, error="boom" if status == "failed" else None)
    page = await client.get(f"/inferences/{job}")
    assert page.status_code == 200 and expect in page.text
    assert_accessible(page.text)
    assert ('id="cancel-button"' in page.text) == (status in ("queued", "running"))


async def test_rerun_and_start_enqueue_after_commit(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    ro = await rollouts(client)
    job = await infer(client, ro)
    queue.drain()
    page = await client.get(f"/inferences/{job}")
    token = csrf_of(page.text)
    rerun = await client.post(
        f"/inferences/{job}/rerun",
        data={"csrf_token": token, "algorithm": "mce_irl", "reward_model": "tabular", "seed": "7"},
    )
    assert rerun.status_code == 303
    new_id = rerun.headers["location"].rsplit("/", 1)[1]
    assert queue.ids == [new_id]
    detail = (await client.get(f"/v1/inferences/{new_id}")).json()
    assert detail["seed"] == 7 and detail["reward_model"] == "tabular"
    bad = await client.post(
        f"/inferences/{job}/rerun",
        data={"csrf_token": token, "algorithm": "gail", "reward_model": "linear", "seed": "1"},
    )
    assert bad.status_code == 422 and queue.ids == [new_id]
    rollouts_page = await client.get(f"/rollouts/{ro}")
    assert_accessible(rollouts_page.text)
    started = await client.post(
        f"/rollouts/{ro}/infer",
        data={"csrf_token": token, "algorithm": "mce_irl", "reward_model": "linear", "seed": "0",
              "n_seeds": "3"},
    )  # fmt: skip
    assert started.status_code == 303 and len(queue.ids) == 2
    started_id = started.headers["location"].rsplit("/", 1)[1]
    # Independent fits are a deep-IRL parameter: a tabular job bootstraps instead.
    assert "n_seeds" not in (await client.get(f"/v1/inferences/{started_id}")).json()["params"]
    deleted = await client.post(f"/inferences/{job}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert (await client.get(f"/inferences/{job}")).status_code == 404


async def test_rollouts_and_compare_pages(client: httpx.AsyncClient, queue: Queue) -> None:
    train = await rollouts(client, name="train split", split="train")
    test = await rollouts(client, name="test split", split="test")
    a, b = await infer(client, train), await infer(client, test, seed=1)
    queue.drain()
    listing = await client.get("/rollouts")
    assert "train split" in listing.text and "test split" in listing.text
    assert_accessible(listing.text)
    detail = await client.get(f"/rollouts/{train}")
    assert "Trajectory statistics" in detail.text and a in detail.text
    compare = await client.get("/compare", params=[("ids", a), ("ids", b)])
    assert compare.status_code == 200
    assert_accessible(compare.text)
    distances = re.findall(r"<td class=\"num\" data-distance>([^<]+)</td>", compare.text)
    assert len(distances) == 4 and float(distances[1]) < 0.5
    assert (await client.get("/compare", params={"ids": a})).status_code == 422


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_badge_and_status_colours_meet_aa_contrast() -> None:
    css = (STATIC / "dashboard.css").read_text()
    rules = re.findall(r"\.(verdict-\w+) \{ background: (#\w{6}); color: (#\w{6});", css)
    assert len(rules) == 4
    for name, background, text in rules:
        lighter, darker = sorted((_luminance(background), _luminance(text)), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 4.5, name
    for colour in re.findall(r"\.status-\w+(?:, \.status-\w+)? \{ color: (#\w{6}); \}", css):
        assert (1.05) / (_luminance(colour) + 0.05) >= 4.5, colour


async def test_static_assets_ship_with_the_package(anonymous: httpx.AsyncClient) -> None:
    for name in ("dashboard.css", "dashboard.js", "favicon.svg"):
        assert (await anonymous.get(f"/static/{name}")).status_code == 200
    html = (STATIC.parent / "templates" / "base.html").read_text()
    assert "http://" not in html and "https://" not in html


async def balancer_gail(
    client: httpx.AsyncClient, queue: Queue, *, training_reward: bool = True
) -> str:
    """A tiny GAIL fit of CartPole balancing episodes through the API (the rollouts with or
    without the environment's reward as training reward); its inference id."""
    from tests.e2e.test_deep_irl import balancing_episodes

    body: dict[str, Any] = {
        "name": "balancer",
        "environment": {"kind": "gymnasium", "id": "seals/CartPole-v0"},
        "trajectories": balancing_episodes(1, 0),
    }
    if training_reward:
        body["training_reward"] = {"kind": "environment"}
    rollouts = await client.post("/v1/rollouts", json=body)
    assert rollouts.status_code == 201, rollouts.text
    job = await client.post(
        "/v1/inferences",
        json={
            "rollouts_id": rollouts.json()["id"],
            "algorithm": "gail",
            "params": {
                "total_timesteps": 256,
                "n_envs": 1,
                "gen_n_steps": 256,
                "demo_batch_size": 32,
                "n_eval_episodes": 2,
            },
        },
    )
    assert job.status_code == 202, job.text
    assert queue.drain() == ["succeeded"]
    return str(job.json()["id"])


async def test_network_reward_page_and_download(client: httpx.AsyncClient, queue: Queue) -> None:
    """A deep IRL inference: the page describes the network and serves its weights."""
    inference_id = await balancer_gail(client, queue)
    page = await client.get(f"/inferences/{inference_id}")
    assert page.status_code == 200
    assert "Inferred reward network" in page.text and "reward.safetensors" in page.text
    # The sampled distances of the network report (CartPole's dynamics are known: DARD too).
    assert "DARD distance to the training reward" in page.text
    assert "Pearson distance on the visited transitions" in page.text
    # The fit's quality signals, as the API reports them.
    quality = (await client.get(f"/v1/inferences/{inference_id}/divergence")).json()["quality"]
    assert "Quality of the fit" in page.text
    assert page.text.count("data-quality-warning") == len(quality["warnings"])
    assert 0.0 <= quality["disc_heldout_accuracy"] <= 1.0
    assert '<option value="mlp"' in page.text and '<option value="airl"' in page.text
    download = await client.get(f"/inferences/{inference_id}/reward.safetensors")
    api = await client.get(f"/v1/inferences/{inference_id}/reward/weights")
    assert download.status_code == 200 and download.content == api.content


async def test_a_deep_fit_without_a_training_reward_shows_its_own_measurements(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    """No training report holds the quality: the page shows what the fit measured about itself
    (stored with the inference) and where the API reports the rest."""
    inference_id = await balancer_gail(client, queue, training_reward=False)
    page = await client.get(f"/inferences/{inference_id}")
    assert page.status_code == 200
    assert "Quality of the fit" in page.text
    assert f"/v1/inferences/{inference_id}/divergence?against=observed" in page.text
    api = await client.get(f"/v1/inferences/{inference_id}/divergence?against=environment")
    assert api.status_code == 200, api.text
    accuracy = api.json()["quality"]["disc_heldout_accuracy"]
    assert f">{number(accuracy)} (" in page.text


async def test_compare_page_measures_network_rewards(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    """Two reward networks are compared by sampled EPIC over the row inference's rollouts."""
    from tests.service.test_comparisons import _maze_density_inference

    rollouts, first = await _maze_density_inference(client, queue)
    second = await client.post(
        "/v1/inferences",
        json={"rollouts_id": rollouts["id"], "algorithm": "density", "seed": 1},
    )
    assert second.status_code == 202 and queue.drain() == ["succeeded"]
    compare = await client.get("/compare", params=[("ids", first), ("ids", second.json()["id"])])
    assert compare.status_code == 200
    distances = re.findall(r"<td class=\"num\" data-distance>([^<]+)</td>", compare.text)
    assert distances[0] == distances[3] == "—"
    assert all(0.0 <= float(d) <= 1.0 for d in distances[1:3]), distances


async def test_pages_and_submissions_read_only_the_stored_summary(
    client: httpx.AsyncClient, settings: Settings, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No page and no `POST /v1/inferences` decodes trajectory chunks; a rollout set stored
    before summaries existed gets its summary computed and stored once, on first need."""
    from service.core.models import RolloutSet
    from service.rollouts import service as rollouts_service

    ro = await rollouts(client)
    a, b = await infer(client, ro), await infer(client, ro, seed=1)
    assert queue.drain() == ["succeeded", "succeeded"]

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a read decoded trajectory arrays")

    monkeypatch.setattr(rollouts_service, "from_npz_bytes", refuse)
    for path in (f"/rollouts/{ro}", f"/inferences/{a}", f"/compare?ids={a}&ids={b}"):
        assert (await client.get(path)).status_code == 200, path
    await infer(client, ro, seed=2)
    monkeypatch.undo()

    before = (await client.get(f"/rollouts/{ro}")).text
    with unit_of_work(settings) as uow:
        uow.session.execute(update(RolloutSet).where(RolloutSet.id == ro).values(summary=None))
    assert (await client.get(f"/rollouts/{ro}")).text == before
    with unit_of_work(settings) as uow:
        stored = uow.session.get_one(RolloutSet, ro).summary
    assert stored is not None and stored["tabular"] and stored["mce_irl_problems"] == []


async def test_logout_ends_the_session_on_the_server(
    anonymous: httpx.AsyncClient, api_key: str
) -> None:
    await log_in(anonymous, api_key)
    stolen = anonymous.cookies[SESSION_COOKIE]
    page = await anonymous.get("/")
    assert (
        await anonymous.post("/logout", data={"csrf_token": csrf_of(page.text)})
    ).status_code == 303
    anonymous.cookies.clear()
    anonymous.cookies.set(SESSION_COOKIE, stolen)  # a copy of the cookie kept after logout
    assert (await anonymous.get("/")).status_code == 303


async def test_revoking_a_key_ends_its_sessions(
    anonymous: httpx.AsyncClient, settings: Settings, api_key: str
) -> None:
    await log_in(anonymous, api_key)
    assert (await anonymous.get("/")).status_code == 200
    with unit_of_work(settings) as uow:
        principal = authenticate(uow.session, api_key)
        assert principal is not None
        assert revoke_key(uow.session, principal.key_id)
    assert (await anonymous.get("/")).status_code == 303
