"""Known gymnasium rewards agree with the environments' own step() rewards."""

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest
import seals  # noqa: F401  (registers the seals/ ids)

from irl.environments.gym_rewards import KNOWN_ENVIRONMENT_IDS, environment_reward

Policy = Callable[[np.ndarray, gym.Env], np.ndarray | int]


def _random(obs: np.ndarray, env: gym.Env) -> np.ndarray | int:
    """A uniformly random action (the action space is seeded)."""
    return env.action_space.sample()


def _pump_energy(obs: np.ndarray, env: gym.Env) -> int:
    """MountainCar: push along the velocity, which reaches the goal within 200 steps."""
    return 2 if obs[1] >= 0 else 0


def _rollouts(
    env_id: str, policy: Policy, n_episodes: int, max_steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(obs, acts, next_obs, rews) of every step of a few seeded episodes."""
    env = gym.make(env_id)
    env.action_space.seed(0)
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=episode)
        for _ in range(max_steps):
            act = policy(obs, env)
            next_obs, rew, terminated, truncated, _ = env.step(act)
            rows.append((obs, np.asarray(act), next_obs, float(rew)))
            obs = next_obs
            if terminated or truncated:
                break
    env.close()
    obs_, acts, next_, rews = zip(*rows, strict=True)
    return np.array(obs_), np.array(acts), np.array(next_), np.array(rews)


@pytest.mark.parametrize(
    ("env_id", "policy", "n_episodes", "max_steps"),
    [
        ("seals/CartPole-v0", _random, 2, 500),
        ("seals/MountainCar-v0", _pump_energy, 2, 200),
        ("CartPole-v1", _random, 5, 500),
        ("MountainCar-v0", _random, 1, 200),
        ("Pendulum-v1", _random, 2, 200),
    ],
)
def test_known_reward_matches_env_step(
    env_id: str, policy: Policy, n_episodes: int, max_steps: int
) -> None:
    """R(s, a, s') equals the reward step() returned on every transition of the rollouts."""
    obs, acts, next_obs, rews = _rollouts(env_id, policy, n_episodes, max_steps)
    reward = environment_reward(env_id)
    assert reward is not None
    values = reward(obs, acts, next_obs, None)
    assert values.dtype == np.float64
    np.testing.assert_allclose(values, rews, rtol=1e-5, atol=1e-5)


def test_acrobot_reward_matches_env_terminal_rule() -> None:
    """Acrobot-v1 (whose step() fails under numpy 2 in gymnasium 0.29): 0 exactly when the
    environment's own _terminal() holds for the next state, else -1."""
    env = gym.make("Acrobot-v1").unwrapped
    rng = np.random.default_rng(0)
    states = rng.uniform(-np.pi, np.pi, size=(2000, 4))
    next_obs, expected = [], []
    for state in states:
        env.state = state
        next_obs.append(env._get_ob())
        expected.append(0.0 if env._terminal() else -1.0)
    reward = environment_reward("Acrobot-v1")
    assert reward is not None
    obs = np.array(next_obs)
    values = reward(obs, np.zeros(len(obs), dtype=np.int64), obs, None)
    assert set(expected) == {0.0, -1.0}
    np.testing.assert_array_equal(values, expected)


def test_rollouts_cover_both_reward_values() -> None:
    """The seals CartPole and MountainCar rollouts see both of their reward values."""
    for env_id, policy in (("seals/CartPole-v0", _random), ("seals/MountainCar-v0", _pump_energy)):
        _, _, _, rews = _rollouts(env_id, policy, 1, 500)
        assert len(np.unique(rews)) == 2, env_id


def test_unknown_environment_has_no_known_reward() -> None:
    """Ids whose reward is not a known function of (s, a, s') give None."""
    assert environment_reward("HalfCheetah-v4") is None
    assert "seals/CartPole-v0" in KNOWN_ENVIRONMENT_IDS


def test_maze_reward_matches_the_tabular_view() -> None:
    from irl.environments.gym_rewards import environment_reward
    from irl.environments.maze import generate_maze
    from irl.environments.maze_gym import MazeEnv

    maze = generate_maze(size=3, distribution="test", seed=11)
    env, mdp = MazeEnv(maze=maze), maze.to_mdp()
    reward = environment_reward("mesascope/Maze-test-v0")
    assert reward is not None
    door = mdp.features[:, mdp.feature_names.index("door")]
    for state in range(mdp.n_states):
        obs, _ = env.reset(options={"state": state})
        value = reward(obs.reshape(1, -1), np.zeros(1), obs.reshape(1, -1), None)
        assert value[0] == door[state]
