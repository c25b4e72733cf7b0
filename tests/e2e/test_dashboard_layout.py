"""The dashboard's pages at 1400 px and 400 px in Chromium against one `mesascope serve`: nothing
overflows the header or the page, no chart text is clipped, no console errors, every control and
chart has an accessible name, text meets WCAG AA contrast, and the pages say what the stored
report says (caveats beside indistinguishable weights, code not backticks, no "-0%")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from irl.agents import tabular_trajectories
from irl.environments.maze import generate_maze
from tests.e2e.processes import served, wait_for
from tests.e2e.test_dashboard import A11Y_SCRIPT, ARTIFACTS, CHROMIUM, LAUNCH_ARGS, chromium_or_skip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WIDTHS = (1400, 400)
TRAINING_REWARD = {"kind": "linear", "weights": {"door": 1.0}}

# Layout problems in the page: the header or page wider than the window, and SVG text outside
# its chart (a clipped legend or label).
LAYOUT_SCRIPT = """() => {
  const problems = [];
  const header = document.querySelector('header.top');
  if (header && header.scrollWidth > header.clientWidth + 1)
    problems.push(`header overflows: ${header.scrollWidth} > ${header.clientWidth}`);
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1)
    problems.push(`page overflows: ${root.scrollWidth} > ${root.clientWidth}`);
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    const name = svg.querySelector('title')?.textContent;
    if (box.right > root.clientWidth + 1) problems.push(`chart wider than the page: ${name}`);
    for (const text of svg.querySelectorAll('text')) {
      const r = text.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
          || r.bottom > box.bottom + 1)
        problems.push(`clipped in "${name}": ${text.textContent}`);
    }
  }
  for (const svg of document.querySelectorAll('svg.chart')) {
    if (svg.getAttribute('role') !== 'img' || !svg.querySelector('title')?.textContent.trim())
      problems.push('chart without role img and title');
  }
  for (const b of document.querySelectorAll('button')) {
    const r = b.getBoundingClientRect();
    if (b.offsetParent !== null && (r.width < 8 || r.height < 8 || !b.textContent.trim()))
      problems.push('button without a visible name: ' + b.outerHTML.slice(0, 80));
  }
  return problems;
}"""

# Contrast of buttons (the header's "Log out" included) and headings, on top of A11Y_SCRIPT's.
CONTRAST_SCRIPT = A11Y_SCRIPT.replace(
    "'.badge, .status, main p, main td, main th, a'",
    "'.badge, .status, main p, main td, main th, a, button, h1, h2, .who'",
)


def maze_rollouts(distribution: str, agent: str) -> dict[str, Any]:
    """Scripted agents in one 5x5 maze (seed 3): the door and red coincide in `train` mazes."""
    maze = generate_maze(size=5, distribution=distribution, seed=3)  # type: ignore[arg-type]
    return {
        "name": f"maze {distribution} {agent}",
        "environment": maze.to_spec(),
        "split": distribution,
        "training_reward": TRAINING_REWARD,
        "tags": {"agent": agent},
        "trajectories": tabular_trajectories(
            maze,
            agent=agent,  # type: ignore[arg-type]
            n=30,
            rng=np.random.default_rng(0),
        ),
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One server for the module, with three finished maze inferences."""
    chromium_or_skip()
    with served(tmp_path_factory.mktemp("layout"), workers=2, bootstrap_resamples="2") as server:
        headers = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            ids, rollouts = [], []
            for distribution, agent in (
                ("train", "door_seeker"),
                ("test", "red_seeker"),
                ("test", "door_seeker"),
            ):
                ro = client.post("/v1/rollouts", json=maze_rollouts(distribution, agent))
                rollouts.append(ro.raise_for_status().json()["id"])
                job = client.post(
                    "/v1/inferences", json={"rollouts_id": rollouts[-1], "algorithm": "mce_irl"}
                )
                ids.append(job.raise_for_status().json()["id"])
            for inference_id in ids:
                assert wait_for(client, inference_id, timeout=240)["status"] == "succeeded"
        yield {"url": server.url, "key": server.key, "ids": ids, "rollouts": rollouts}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def logged_in(request: pytest.FixtureRequest, site: dict[str, Any], browser: Any) -> Iterator[Any]:
    """A page logged in through the form at one window width; fails on console errors."""
    width = request.param
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site["url"] + "/login")
    page.get_by_label("API key").fill(site["key"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site["url"] + "/")
    page.width = width
    yield page
    context.close()
    assert not errors, errors


def check_page(page: Any, name: str) -> None:
    """Layout, accessibility tree and contrast of the open page; saves a screenshot."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"layout-{name}-{page.width}.png"), full_page=True)
    problems = page.evaluate(LAYOUT_SCRIPT) + page.evaluate(CONTRAST_SCRIPT)
    tree = page.locator("body").aria_snapshot()
    for line in tree.splitlines():
        # An unnamed button, image or form control shows as a bare role in the tree.
        if re.fullmatch(
            r"\s*- (button|img|combobox|textbox|checkbox|spinbutton)( \[.*\])?:?", line
        ):
            problems.append(f"no accessible name: {line.strip()}")
    assert not problems, (page.url, problems)


def tick_labels(page: Any, title: str) -> list[str]:
    """The text of a chart's axis tick labels (text-anchor middle or end, numeric)."""
    texts = page.locator(f'svg.chart:has(title:text-is("{title}")) text').all_text_contents()
    return [t for t in texts if re.fullmatch(r"-?[\d.e+-]+", t)]


def test_list_fits(logged_in: Any, site: dict[str, Any]) -> None:
    page = logged_in
    expect_header(page)
    if page.width == 1400:
        heights = page.locator("tr[data-id]").evaluate_all(
            "rows => rows.map(r => r.getBoundingClientRect().height)"
        )
        assert heights and max(heights) < 40, f"rows wrap: {heights}"
    check_page(page, "list")


def expect_header(page: Any) -> None:
    """The header names the project and has a visible "Log out" button."""
    who = page.locator("header .who").inner_text()
    assert "default" in who and "prj_" not in who, who
    button = page.get_by_role("button", name="Log out")
    box = button.bounding_box()
    assert box is not None and box["width"] > 30 and box["x"] + box["width"] <= page.width


def test_inference_page_agrees_with_its_report(logged_in: Any, site: dict[str, Any]) -> None:
    page = logged_in
    page.goto(f"{site['url']}/inferences/{site['ids'][0]}")
    explanation = page.locator(".explanation")
    assert "`" not in explanation.inner_text()
    assert explanation.locator("code").count() > 0
    assert "-0%" not in page.locator("main").inner_text()
    # In a train maze door and red coincide: the caveat sits next to the explanation and the chart.
    caveats = page.locator("[data-caveat]")
    assert caveats.count() == 2 and "door ≡ red" in caveats.first.inner_text()
    weights = page.locator(
        'svg.chart:has(title:text-is("Feature weights")) text'
    ).all_text_contents()
    assert "door (≡ red)" in weights and "red (≡ door)" in weights
    # The curve: what met its threshold is said, and iterations are whole numbers.
    assert "Converged at iteration" in page.locator("[data-curve-note]").inner_text()
    curve = page.locator('svg.chart:has(title:text-is("IRL training curve")) text')
    x_ticks = curve.evaluate_all(
        "ts => ts.filter(t => t.getAttribute('text-anchor') === 'middle'"
        " && /^[0-9.]+$/.test(t.textContent)).map(t => t.textContent)"
    )
    assert x_ticks and all(re.fullmatch(r"\d+", t) for t in x_ticks), x_ticks
    # Heatmaps mark the start, the door and the coloured squares; legend colours match lines.
    heat = page.locator('svg.chart:has(title:text-is("Inferred utility per cell"))')
    legend = heat.locator("text").all_text_contents()
    for mark in ("S start", "D door", "R red", "B blue"):
        assert mark in legend, legend
    line_colours = heat.locator("polyline:has(title)").evaluate_all(
        "ls => ls.map(l => l.getAttribute('stroke'))"
    )
    legend_colours = heat.locator("line").evaluate_all(
        "ls => ls.map(l => l.getAttribute('stroke'))"
    )
    assert line_colours and line_colours == legend_colours[: len(line_colours)]
    # Charts scale with the page.
    svg_width = heat.evaluate("s => s.getBoundingClientRect().width")
    assert svg_width > (0.8 * page.width - 40 if page.width < 700 else 360), svg_width
    check_page(page, "inference")


def test_compare_page(logged_in: Any, site: dict[str, Any]) -> None:
    page = logged_in
    page.goto(site["url"] + "/compare?" + "&".join(f"ids={i}" for i in site["ids"]))
    cells = page.locator("[data-distance]").all_text_contents()
    assert [cells[0], cells[4], cells[8]] == ["—"] * 3, cells
    assert all(re.fullmatch(r"\d\.\d{3}", c) for i, c in enumerate(cells) if i % 4), cells
    legend = page.locator('svg.chart:has(title:text-is("Inferred feature weights")) text')
    labels = legend.all_text_contents()
    for n in (1, 2, 3):
        assert any(t.startswith(f"{n}. maze") for t in labels), labels
    features = [t for t in labels if t in ("door", "red", "blue", "wall_adjacent")]
    assert features == ["door", "red", "blue", "wall_adjacent"], features
    # One colour scale: every heatmap's colour bar has the same ends.
    ends = page.locator("svg.chart-heat").evaluate_all(
        "ss => ss.map(s => [...s.querySelectorAll('text')].map(t => t.textContent))"
    )
    assert len(ends) == 3
    bars = {tuple(t for t in e if re.fullmatch(r"-?[\d.e+-]+", t)) for e in ends}
    assert len(bars) == 1, bars
    check_page(page, "compare")


def test_rollouts_page(logged_in: Any, site: dict[str, Any]) -> None:
    page = logged_in
    page.goto(f"{site['url']}/rollouts/{site['rollouts'][0]}")
    assert page.locator("[data-training-reward]").inner_text() == "linear: door 1"
    counts = page.locator(
        'svg.chart:has(title:text-is("Trajectory lengths")) text[text-anchor="end"]'
    )
    ticks = counts.all_text_contents()
    assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks
    bars = page.locator('svg.chart:has(title:text-is("Trajectory lengths")) rect:has(title)')
    assert bars.count() >= 5
    check_page(page, "rollouts")
    page.goto(f"{site['url']}/rollouts")
    check_page(page, "rollouts-list")


def test_login_page(browser: Any, site: dict[str, Any]) -> None:
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(site["url"] + "/login")
        page.width = width
        check_page(page, "login")
        context.close()
