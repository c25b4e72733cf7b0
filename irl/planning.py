"""Exact finite-horizon planning on sparse tabular MDPs: optimal, soft-optimal and given policies.

Rewards are dense R(s, a, s') arrays of shape (S, A, S) (see irl.rewards.reward_array); the
dynamics stay sparse, so one backup costs O(nnz(T)). Time t = 0 is the first action; a policy
of shape (H, S, A) gives pi_t(a | s) for t < H.
"""

from dataclasses import dataclass

import numpy as np
import scipy.special

from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.trajectories import TrajectorySet

TIE_TOLERANCE = 1e-9
POLICY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class NormalizedReturn:
    """Demonstrated return against the optimal and uniform-random policies' returns."""

    demo: float
    optimal: float
    random: float
    normalized: float | None
    """(demo - random) / (optimal - random); None when optimal == random (all behaviour is)."""


def expected_rewards(mdp: TabularMDP, reward: np.ndarray) -> np.ndarray:
    """r(s, a) = sum_s' T(s' | s, a) R(s, a, s'), shape (S, A) float64."""
    _check_reward(mdp, reward)
    coo = mdp.transitions.tocoo()
    states, actions = coo.row // mdp.n_actions, coo.row % mdp.n_actions
    weighted = coo.data * reward[states, actions, coo.col]
    total = np.bincount(coo.row, weights=weighted, minlength=mdp.n_states * mdp.n_actions)
    return total.reshape(mdp.n_states, mdp.n_actions)


def optimal_policy(mdp: TabularMDP, reward: np.ndarray) -> np.ndarray:
    """Optimal policy, (H, S, A) float64; tied best actions share probability equally."""
    r = expected_rewards(mdp, reward)
    policy = np.empty((mdp.horizon, mdp.n_states, mdp.n_actions))
    values = np.zeros(mdp.n_states)
    for t in reversed(range(mdp.horizon)):
        q = _backup(mdp, r, values)
        best = q.max(axis=1, keepdims=True)
        greedy = q >= best - TIE_TOLERANCE * (1.0 + np.abs(best))
        policy[t] = greedy / greedy.sum(axis=1, keepdims=True)
        values = best[:, 0]
    return policy


def soft_optimal_policy(
    mdp: TabularMDP, reward: np.ndarray, *, temperature: float = 1.0
) -> np.ndarray:
    """Maximum-causal-entropy (soft-optimal) policy, (H, S, A) float64: pi ∝ exp(Q_soft / temp).

    With temperature 1 and a state-only reward this is imitation's `mce_partition_fh` policy,
    i.e. the behaviour model MCE IRL fits.
    """
    if not temperature > 0:
        raise InvalidInputError.at("temperature", f"must be > 0, got {temperature}")
    r = expected_rewards(mdp, reward)
    policy = np.empty((mdp.horizon, mdp.n_states, mdp.n_actions))
    values = np.zeros(mdp.n_states)
    for t in reversed(range(mdp.horizon)):
        q = _backup(mdp, r, values) / temperature
        log_partition = scipy.special.logsumexp(q, axis=1)
        policy[t] = np.exp(q - log_partition[:, None])
        values = temperature * log_partition
    return policy


def policy_value(mdp: TabularMDP, reward: np.ndarray, policy: np.ndarray) -> float:
    """Expected discounted return from the initial distribution of a (H, S, A) or (S, A) policy."""
    r = expected_rewards(mdp, reward)
    steps = _check_policy(mdp, policy)
    values = np.zeros(mdp.n_states)
    for t in reversed(range(mdp.horizon)):
        values = (steps[t] * _backup(mdp, r, values)).sum(axis=1)
    return float(mdp.initial_state_dist @ values)


def uniform_policy(mdp: TabularMDP) -> np.ndarray:
    """The uniform-random policy, (S, A) float64."""
    return np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)


def action_log_likelihood(policy: np.ndarray, ts: TrajectorySet) -> np.ndarray:
    """log pi_t(a_t | s_t) of every demonstrated action, (N,) float64 (-inf where pi is 0)."""
    if policy.ndim != 3 or ts.obs.ndim != 1 or ts.acts.ndim != 1:
        raise InvalidInputError.at("policy", "expected an (H, S, A) policy and tabular data")
    if int(ts.lengths.max()) > policy.shape[0]:
        raise InvalidInputError.at(
            "trajectories",
            f"a trajectory has {int(ts.lengths.max())} "
            f"actions, more than the horizon {policy.shape[0]}",
        )
    states, actions, _ = ts.transitions()
    with np.errstate(divide="ignore"):
        return np.log(policy[ts.timesteps, states, actions])


def discounted_returns(mdp: TabularMDP, reward: np.ndarray, ts: TrajectorySet) -> np.ndarray:
    """(n_traj,) float64: sum_t gamma^t R(s_t, a_t, s_t+1) of each trajectory.

    A trajectory that stops before the horizon in an absorbing state is extended to the horizon
    with that state's R(s, a, s) averaged over actions (what staying there would earn).
    """
    _check_reward(mdp, reward)
    _check_indices(mdp, ts)
    states, actions, next_states = ts.transitions()
    returns = ts.discounted_returns(reward[states, actions, next_states], mdp.discount)
    powers = mdp.discount ** np.arange(mdp.horizon + 1, dtype=np.float64)
    last = ts.last_obs()
    absorbing = mdp.is_absorbing()[last] & (ts.lengths < mdp.horizon)
    stay = reward[last, :, last].mean(axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(powers)])
    remaining = cumulative[mdp.horizon] - cumulative[np.minimum(ts.lengths, mdp.horizon)]
    return np.asarray(returns + np.where(absorbing, stay * remaining, 0.0))


def normalized_return(mdp: TabularMDP, reward: np.ndarray, ts: TrajectorySet) -> NormalizedReturn:
    """How much of the achievable return (above uniform-random) the demonstrations obtain."""
    demo = float(discounted_returns(mdp, reward, ts).mean())
    optimal = policy_value(mdp, reward, optimal_policy(mdp, reward))
    random = policy_value(mdp, reward, uniform_policy(mdp))
    spread = optimal - random
    scale = max(1.0, abs(optimal), abs(random))
    normalized = None if abs(spread) <= 1e-12 * scale else (demo - random) / spread
    return NormalizedReturn(demo=demo, optimal=optimal, random=random, normalized=normalized)


def _backup(mdp: TabularMDP, r: np.ndarray, next_values: np.ndarray) -> np.ndarray:
    """Q(s, a) = r(s, a) + gamma * E[V(s')], shape (S, A)."""
    expected_next = mdp.transitions @ next_values
    return r + mdp.discount * np.asarray(expected_next).reshape(mdp.n_states, mdp.n_actions)


def _check_reward(mdp: TabularMDP, reward: np.ndarray) -> None:
    """Refuse rewards that are not finite (S, A, S) arrays."""
    shape = (mdp.n_states, mdp.n_actions, mdp.n_states)
    if reward.shape != shape:
        raise InvalidInputError.at("reward", f"shape {list(reward.shape)}, expected {list(shape)}")
    if not np.isfinite(reward).all():
        raise InvalidInputError.at("reward", "must be finite")


def _check_indices(mdp: TabularMDP, ts: TrajectorySet) -> None:
    """Refuse trajectories whose states or actions are not indices of the MDP."""
    for name, values, bound in (("obs", ts.obs, mdp.n_states), ("acts", ts.acts, mdp.n_actions)):
        if values.ndim != 1 or values.min() < 0 or values.max() >= bound:
            raise InvalidInputError.at(f"trajectories.{name}", f"expected indices in [0, {bound})")


def _check_policy(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """The policy as (H, S, A), after checking it is a probability distribution per (t, s)."""
    shape = (mdp.n_states, mdp.n_actions)
    if policy.shape == shape:
        policy = np.broadcast_to(policy, (mdp.horizon, *shape))
    if policy.shape != (mdp.horizon, *shape):
        expected = f"{[mdp.horizon, *shape]} or {list(shape)}"
        raise InvalidInputError.at("policy", f"shape {list(policy.shape)}, expected {expected}")
    if (policy < 0).any() or np.abs(policy.sum(axis=2) - 1.0).max() > POLICY_TOLERANCE:
        raise InvalidInputError.at("policy", "each pi_t(. | s) must be a probability distribution")
    return policy
