"""The dashboard in a real browser (Debian's Chromium via Playwright) against `mesascope serve`:
log in, list, filter, open, compare, cancel; no console errors; another project sees nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import Process, mesascope_env, run, served, wait_for
from tests.e2e.scenario import expert_rollouts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LONG_PARAMS = {"max_iter": 100_000, "linf_eps": 0, "grad_l2_eps": 0, "solver": "imitation"}

# In the page: every visible control has a label; headings start at h1 and skip no level;
# text colour of verdict badges and body text against their backgrounds (WCAG ratio).
A11Y_SCRIPT = """() => {
  const problems = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`))
      || el.getAttribute('aria-label') || el.closest('label');
    if (!labelled) problems.push('unlabelled ' + el.outerHTML.slice(0, 80));
  }
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  if (levels[0] !== 1) problems.push('first heading is not h1: ' + levels);
  levels.forEach((l, i) => { if (i && l > levels[i - 1] + 1) problems.push('skipped to h' + l); });
  const lum = (rgb) => {
    const c = rgb.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(v => +v / 255)
      .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const ratio = (a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  for (const el of document.querySelectorAll('.badge, .status, main p, main td, main th, a')) {
    let bg = 'rgb(255, 255, 255)';
    for (let n = el; n; n = n.parentElement) {
      const c = getComputedStyle(n).backgroundColor;
      if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') { bg = c; break; }
    }
    const r = ratio(lum(getComputedStyle(el).color), lum(bg));
    const what = el.textContent.trim().slice(0, 30);
    if (r < 4.5 && el.offsetParent !== null) problems.push(`contrast ${r.toFixed(2)}: ${what}`);
  }
  return problems;
}"""


def chromium_or_skip() -> None:
    """Locally a missing Chromium skips; in CI it is a failure."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("/usr/bin/chromium is missing; .ci/run installs it with apt-get")
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(name="served")
def served_dashboard(tmp_path: Path) -> Iterator[tuple[str, str, str, Process]]:
    """A running `mesascope serve` with two workers: (url, admin key, other project's key)."""
    chromium_or_skip()
    with served(tmp_path, workers=2) as server:
        other = run(
            ["keys", "create", "--name", "other", "--project", "other"], mesascope_env(tmp_path)
        ).strip()
        yield server.url, server.key, other, server.process


def make_data(client: httpx.Client) -> dict[str, Any]:
    """Two finished inferences (train and test split) and one that keeps running."""
    ids: dict[str, Any] = {}
    for name, seed in (("train", 11), ("test", 12)):
        body = {**expert_rollouts(seed), "split": name, "name": f"door expert ({name} split)"}
        rollouts = client.post("/v1/rollouts", json=body).raise_for_status().json()
        job = client.post(
            "/v1/inferences", json={"rollouts_id": rollouts["id"], "algorithm": "mce_irl"}
        )
        ids[name] = job.raise_for_status().json()["id"]
    for name in ("train", "test"):
        done = wait_for(client, ids[name], timeout=120)
        assert done["status"] == "succeeded", done
        ids[f"{name}_verdict"] = done["verdict"]
    long_body = {**expert_rollouts(13, rows=8, cols=8), "name": "long runner"}
    long_rollouts = client.post("/v1/rollouts", json=long_body).raise_for_status().json()
    ids["long"] = (
        client.post(
            "/v1/inferences",
            json={
                "rollouts_id": long_rollouts["id"],
                "algorithm": "mce_irl",
                "params": LONG_PARAMS,
            },
        )
        .raise_for_status()
        .json()["id"]
    )
    wait_for(client, ids["long"], timeout=60, until=("running",))
    return ids


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def check_a11y(page: Any) -> None:
    problems = page.evaluate(A11Y_SCRIPT)
    assert not problems, (page.url, problems)


def test_dashboard_in_a_browser(served: tuple[str, str, str, Process]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, key, other_key, _server = served
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        ids = make_data(c)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: d.accept())

            # Log in with the key.
            page.goto(url + "/")
            expect(page).to_have_url(f"{url}/login?next=%2F")
            check_a11y(page)
            shot(page, "01-login")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Inferences")

            # A finished inference in the list, with its verdict badge.
            row = page.locator(f'tr[data-id="{ids["train"]}"]')
            expect(row.locator("[data-status]")).to_have_text("succeeded")
            expect(row.locator(".badge")).to_have_text(ids["train_verdict"].replace("_", " "))
            expect(page.locator(f'tr[data-id="{ids["long"]}"] progress')).to_be_visible()
            check_a11y(page)
            shot(page, "02-list")

            # Filter by verdict: the state is in the URL, the running job is gone.
            page.get_by_label("Verdict").select_option(ids["train_verdict"])
            page.get_by_role("button", name="Apply").click()
            expect(page).to_have_url(f"{url}/?verdict={ids['train_verdict']}&sort=newest")
            expect(page.locator(f'tr[data-id="{ids["long"]}"]')).to_have_count(0)
            expect(page.locator(f'tr[data-id="{ids["train"]}"]')).to_have_count(1)
            shot(page, "03-list-filtered")

            # Open it: the verdict, explanation and plots.
            page.locator(f'a[href="/inferences/{ids["train"]}"]').click()
            expect(page.get_by_role("heading", name="Verdict")).to_be_visible()
            expect(page.locator(".explanation")).to_contain_text("EPIC distance")
            for title in (
                "Feature weights",
                "IRL training curve",
                "Inferred utility per cell",
                "Named goals",
            ):
                expect(page.locator(f'svg.chart title:text-is("{title}")')).to_have_count(1)
            expect(page.locator("svg.chart")).to_have_count(6)
            check_a11y(page)
            shot(page, "04-inference")

            # Compare the train- and test-split inferences.
            page.goto(url + "/")
            page.locator(f"#cmp-{ids['train']}").check()
            page.locator(f"#cmp-{ids['test']}").check()
            page.get_by_role("button", name="Compare selected").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Compare 2 inferences")
            distances = page.locator("[data-distance]").all_text_contents()
            assert len(distances) == 4 and 0 <= float(distances[1]) < 1, distances
            check_a11y(page)
            shot(page, "05-compare")

            # Rollouts list and detail.
            page.get_by_role("link", name="Rollouts").click()
            page.get_by_role("link", name="door expert (train split)").click()
            expect(page.get_by_role("heading", name="Start an inference")).to_be_visible()
            check_a11y(page)
            shot(page, "06-rollouts")

            # Cancel the running one; the page follows it to `cancelled` by itself.
            page.goto(f"{url}/inferences/{ids['long']}")
            expect(page.locator(".summary [data-status]")).to_have_text("running")
            shot(page, "07-running")
            started = time.monotonic()
            page.get_by_role("button", name="Cancel").click()
            expect(page.locator(".summary [data-status]")).to_have_text("cancelled", timeout=20_000)
            print(f"\ncancelled from the browser in {time.monotonic() - started:.1f} s")
            shot(page, "08-cancelled")
            assert not errors, errors

            # Another project's key sees none of it.
            other = browser.new_context().new_page()
            other.goto(url + "/login")
            other.get_by_label("API key").fill(other_key)
            other.get_by_role("button", name="Log in").click()
            expect(other.get_by_role("heading", level=1)).to_have_text("Inferences")
            expect(other.locator("tr[data-id]")).to_have_count(0)
            shot(other, "09-other-project")
            response = other.goto(f"{url}/inferences/{ids['train']}")
            assert response is not None and response.status == 404
            expect(other.locator("body")).not_to_contain_text("door expert")
            shot(other, "10-other-project-404")
        finally:
            browser.close()
