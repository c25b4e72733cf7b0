"""examples/maze_misgeneralization.py --quick against a real `mesascope serve`.

The quick mode runs only the scripted agents (no PPO training), one train and one test maze each,
so the verdicts are known: the door-seeker generalises to the blue-door test maze, the red-seeker
goes to the red distractor instead (goal misgeneralization).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.processes import mesascope_env, served

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "maze_misgeneralization.py"


def test_quick_example_reports_the_expected_verdicts(tmp_path: Path) -> None:
    """Door-seeker on the test maze: `generalises`; red-seeker: `goal_misgeneralization`."""
    with served(tmp_path, workers=2) as server:
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(EXAMPLE), "--quick", "--json"],
            env=mesascope_env(tmp_path, url=server.url, api_key=server.key),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        elapsed = time.monotonic() - began
    assert done.returncode == 0, f"{done.stderr}\n{server.process.log()[-3000:]}"
    assert elapsed < 90, f"the quick example took {elapsed:.0f} s"
    rows = json.loads(done.stdout)["rows"]
    verdicts = {(row["agent"], row["split"]): row["verdict"] for row in rows}
    assert verdicts[("door_seeker", "test")] == "generalises", rows
    assert verdicts[("red_seeker", "test")] == "goal_misgeneralization", rows
    by_agent = {(row["agent"], row["split"]): row for row in rows}
    door_test = by_agent[("door_seeker", "test")]
    red_test = by_agent[("red_seeker", "test")]
    assert door_test["weights"]["door"] > door_test["weights"]["red"]
    assert red_test["weights"]["red"] > red_test["weights"]["door"]
    assert door_test["reached_door"] > 0.9 and red_test["reached_door"] < 0.1


def _examples() -> None:
    """Make examples/ importable (the scripts import each other by file name)."""
    if str(EXAMPLE.parent) not in sys.path:
        sys.path.insert(0, str(EXAMPLE.parent))


def test_training_ends_at_the_door_and_views_the_maze_from_the_agent() -> None:
    _examples()
    from train_maze_agent import EgocentricObservation, EndAtDoor

    from irl.environments.maze import generate_maze
    from irl.environments.maze_gym import MazeEnv

    maze = generate_maze(size=3, distribution="train", seed=11)
    env = EgocentricObservation(EndAtDoor(MazeEnv(maze=maze)))
    door = maze.state_of[maze.door]
    to_door = [int(maze.distances(cell)[door]) for cell in maze.states]
    obs, info = env.reset(seed=0)
    centre = obs.shape[1] // 2
    for _ in range(maze.horizon):
        r, c = maze.states[info["state"]]
        # The view is re-centred: the square right of the agent is (centre, centre + 1).
        assert obs[0, centre, centre + 1] == maze.walls[r, c + 1]
        action = min(range(1, 5), key=lambda a: to_door[maze.next_states[info["state"], a]])
        obs, reward, terminated, truncated, info = env.step(action)
        assert reward == float(terminated) and not truncated
        if terminated:
            break
    assert terminated and info["state"] == door and info["t"] == to_door[maze.state_of[maze.start]]


def test_training_script_saves_an_agent_the_example_reuses(tmp_path: Path) -> None:
    _examples()
    from maze_misgeneralization import load_or_train_ppo, ppo_trajectories
    from train_maze_agent import POLICY, train

    from irl.environments.maze import generate_maze

    out = tmp_path / "ppo.zip"
    summary = train(timesteps=1024, out=out, eval_mazes=3, eval_every=512, n_envs=2)
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved == json.loads(json.dumps(summary))
    assert saved["policy"] == POLICY and saved["timesteps"] >= 1024 and saved["history"]
    assert 0.0 <= saved["held_out_success"] <= 1.0
    assert saved["solved"] == (saved["held_out_success"] >= saved["target"])
    model, reused = load_or_train_ppo(out, size=3, timesteps=1, seed=0, retrain=False)
    assert reused == saved
    maze = generate_maze(size=3, distribution="test", seed=1)
    trajectories = ppo_trajectories(model, maze, n=2, seed=0)
    assert [len(t["acts"]) for t in trajectories] == [maze.horizon] * 2
    assert all(0 <= s < maze.n_states for t in trajectories for s in t["obs"])
