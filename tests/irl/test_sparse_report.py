"""The sparse report against its oracle, today's dense implementation, on random small MDPs.

Every distance (EPIC, DARD, STARC, Pearson on visits, regret) and every number of the report's
measurement (normalised returns, the goal-directedness test, EPIC of the evidence) must agree
with the dense code to 1e-9, for state, state-action and full rewards and their shaped and
rescaled variants, with gamma < 1 and gamma = 1 and finite horizons.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, cast

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irl.algorithms import mce_irl
from irl.algorithms.mce_irl import RewardModel, warm_refit
from irl.divergence import (
    ExactPair,
    dard_canonicalize,
    distances,
    epic_canonicalize,
    epic_distance,
    starc_canonicalize,
)
from irl.divergence.sparse import (
    VisitCounts,
    gain_and_bias,
    recurrent_classes,
    sparse_distances,
    uniform_chain,
)
from irl.divergence.starc import _gain_and_bias
from irl.environments import TabularMDP
from irl.goal_directedness import PlanningReward, goal_directedness
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from irl.planning import (
    expected_rewards,
    normalized_return,
    optimal_policy,
    policy_value,
    soft_optimal_policy,
    uniform_policy,
)
from irl.planning_sparse import optimal_values, planning_dynamics, soft_logits_at, uniform_visits
from irl.report.sparse import (
    SparseReference,
    report_memory_bytes,
    sparse_measure,
    sparse_metrics,
)
from irl.rewards import LinearReward, TabularReward
from irl.rewards_sparse import SparseReward, TransitionSupport, dense_array, sparse_reward
from irl.trajectories import TrajectorySet, concatenate
from irl.uncertainty import resample, select
from tests.irl.gridworld import gridworld_spec, sample_trajectories

TOLERANCE = 1e-9
KINDS = ("state", "state_action", "full")
VARIANTS = ("independent", "shaped", "rescaled", "negated", "same")


def visit_counts(mdp: TabularMDP, trajectories: TrajectorySet) -> np.ndarray:
    """(S, A, S) float64 transition counts: the dense oracle's visits."""
    counts = np.zeros((mdp.n_states, mdp.n_actions, mdp.n_states))
    np.add.at(counts, trajectories.transitions(), 1.0)
    return counts


def random_mdp(
    rng: np.random.Generator, *, n_states: int, n_actions: int, discount: float, horizon: int
) -> TabularMDP:
    """Random sparse dynamics (1..3 successors per (s, a)); state 0 absorbing half the time."""
    rows = np.zeros((n_states * n_actions, n_states))
    for row in range(n_states * n_actions):
        k = int(rng.integers(1, min(3, n_states) + 1))
        successors = rng.choice(n_states, size=k, replace=False)
        rows[row, successors] = rng.dirichlet(np.ones(k))
    if rng.random() < 0.5:
        rows[:n_actions] = 0.0
        rows[:n_actions, 0] = 1.0
    return TabularMDP(
        name="random",
        n_states=n_states,
        n_actions=n_actions,
        transitions=scipy.sparse.csr_array(rows),
        initial_state_dist=rng.dirichlet(np.ones(n_states)),
        horizon=horizon,
        discount=discount,
        feature_names=("f0", "f1"),
        features=rng.normal(size=(n_states, 2)),
    )


def random_reward(rng: np.random.Generator, kind: str, support: TransitionSupport) -> SparseReward:
    """A separable reward of the kind: R(s), R(s, a), or u(s, a) + v(s') + e on the support."""
    s, a = support.n_states, support.n_actions
    if kind == "state":
        return SparseReward(np.repeat(rng.normal(size=s)[:, None], a, axis=1), np.zeros(s))
    if kind == "state_action":
        return SparseReward(rng.normal(size=(s, a)), np.zeros(s))
    return SparseReward(rng.normal(size=(s, a)), rng.normal(size=s), rng.normal(size=support.nnz))


def variant_of(
    rng: np.random.Generator,
    reward: SparseReward,
    variant: str,
    kind: str,
    discount: float,
    support: TransitionSupport,
) -> SparseReward:
    """A second reward: independent, shaped (potential), rescaled and shifted, negated, equal."""
    if variant == "independent":
        return random_reward(rng, kind, support)
    if variant == "shaped":
        return reward.shaped(rng.normal(size=support.n_states), discount)
    if variant == "rescaled":
        scale, shift = float(rng.uniform(0.1, 10.0)), float(rng.normal())
        e = None if reward.on_support is None else scale * reward.on_support
        return SparseReward(scale * reward.by_state_action + shift, scale * reward.by_next_state, e)
    if variant == "negated":
        e = None if reward.on_support is None else -reward.on_support
        return SparseReward(-reward.by_state_action, -reward.by_next_state, e)
    return reward


def random_trajectories(rng: np.random.Generator, mdp: TabularMDP, n: int) -> TrajectorySet:
    """n trajectories of random actions on feasible transitions; some end early in state 0 when
    it is absorbing (terminal), the others last 1..H steps."""
    dense = mdp.dense_transitions()
    absorbing = mdp.is_absorbing()
    obs: list[int] = []
    acts: list[int] = []
    lengths, terminal = [], []
    for _ in range(n):
        state = int(rng.choice(mdp.n_states, p=mdp.initial_state_dist))
        length = int(rng.integers(1, mdp.horizon + 1))
        obs.append(state)
        steps = 0
        ended = False
        for _ in range(length):
            action = int(rng.integers(mdp.n_actions))
            state = int(rng.choice(mdp.n_states, p=dense[state, action]))
            acts.append(action)
            obs.append(state)
            steps += 1
            if absorbing[state] and rng.random() < 0.5:
                ended = True
                break
        lengths.append(steps)
        terminal.append(ended)
    return TrajectorySet(
        obs=np.array(obs, dtype=np.int64),
        acts=np.array(acts, dtype=np.int64),
        rews=None,
        terminal=np.array(terminal, dtype=bool),
        lengths=np.array(lengths, dtype=np.int64),
    )


CANONICAL = {
    "epic": lambda mdp, r, discount: epic_canonicalize(r, discount),
    "dard": lambda mdp, r, discount: dard_canonicalize(mdp, r, discount)[
        mdp.dense_transitions() > 0
    ],
    "starc": lambda mdp, r, discount: starc_canonicalize(mdp, r, discount),
}


def informative(name: str, mdp: TabularMDP, a: np.ndarray, b: np.ndarray, discount: float) -> bool:
    """Whether both canonical rewards vary by more than rounding on the coverage: otherwise
    the distance is a convention applied to floating-point noise (1e-16), in either code."""
    for reward in (a, b):
        canonical = CANONICAL[name](mdp, reward, discount)
        if float(np.ptp(canonical)) <= 1e-9 * max(1.0, float(np.abs(reward).max())):
            return False
    return True


def close(sparse: float | None, dense: float | None, *, distance: bool = False) -> bool:
    """Equal to TOLERANCE (relative for large values); distances compare their squares too,
    since sqrt((1 - rho) / 2) magnifies rounding near 0 (about 1e-8 for equal inputs)."""
    if sparse is None or dense is None:
        return sparse is None and dense is None
    if math.isclose(sparse, dense, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
        return True
    return distance and abs(sparse * sparse - dense * dense) <= TOLERANCE


problems = st.tuples(
    st.integers(0, 2**32 - 1),  # seed
    st.integers(2, 6),  # states
    st.integers(1, 3),  # actions
    st.sampled_from((0.5, 0.9, 0.99, 1.0)),  # discount
    st.integers(1, 5),  # horizon
    st.sampled_from(KINDS),
    st.sampled_from(VARIANTS),
)


def drawn(
    problem: tuple[int, int, int, float, int, str, str], *, n_trajectories: int
) -> tuple[TabularMDP, TransitionSupport, SparseReward, SparseReward, TrajectorySet]:
    """The random MDP, its support, a reward of the problem's kind, its variant, and random
    trajectories, all drawn from the problem's seed."""
    seed, n_states, n_actions, discount, horizon, kind, variant = problem
    rng = np.random.default_rng(seed)
    mdp = random_mdp(
        rng, n_states=n_states, n_actions=n_actions, discount=discount, horizon=horizon
    )
    support = TransitionSupport.of(mdp)
    first = random_reward(rng, kind, support)
    second = variant_of(rng, first, variant, kind, discount, support)
    return mdp, support, first, second, random_trajectories(rng, mdp, n_trajectories)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems)
def test_every_distance_agrees_with_the_dense_oracle(
    problem: tuple[int, int, int, float, int, str, str],
) -> None:
    discount = problem[3]
    mdp, support, a, b, trajectories = drawn(problem, n_trajectories=4)
    n_states, n_actions = mdp.n_states, mdp.n_actions
    visited = VisitCounts.of(n_states, n_actions, trajectories.transitions())
    dense_a, dense_b = dense_array(a, support), dense_array(b, support)
    pair = ExactPair(mdp, dense_a, dense_b, discount, None, visit_counts(mdp, trajectories))
    expected = distances(pair)
    got = sparse_distances(mdp, a, b, discount=discount, visited=visited, support=support)
    assert list(got) == list(expected)
    for name in expected:
        if name in CANONICAL and not informative(name, mdp, dense_a, dense_b, discount):
            continue
        assert close(got[name], expected[name], distance=name != "regret"), (
            name,
            got[name],
            expected[name],
        )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems, st.integers(1, 6))
def test_report_numbers_agree_with_the_dense_oracle(
    problem: tuple[int, int, int, float, int, str, str], n_parameters: int
) -> None:
    kind, discount = problem[5], problem[3]
    mdp, support, reference, inferred, trajectories = drawn(problem, n_trajectories=5)
    r_reference = dense_array(reference, support)
    r_inferred = dense_array(inferred, support)
    got = sparse_measure(
        SparseReference.of(mdp, reference, n_parameters=n_parameters), trajectories, inferred
    )
    got_epic = got.evidence.epic
    assert close(got_epic, epic_distance(r_inferred, r_reference, discount=discount), distance=True)
    for sparse_part, dense_part in (
        (got.under_training, normalized_return(mdp, r_reference, trajectories)),
        (got.under_inferred, normalized_return(mdp, r_inferred, trajectories)),
    ):
        for name, value in asdict(dense_part).items():
            mine = getattr(sparse_part, name)
            assert (mine is None) == (value is None), name
            assert value is None or close(mine, value), (name, mine, value)
    # The behaviour models plan with r(s, a) in units of the reward's range. The separable
    # range is exact for state and state-action rewards and an upper bound for full ones (off
    # the support it bounds u(s, a) + v(s') by their extremes); given the same range, every
    # likelihood agrees with the dense planning reward's.
    spread = inferred.value_range(support)
    dense_spread = float(r_inferred.max() - r_inferred.min())
    if kind == "full":
        assert spread >= dense_spread - TOLERANCE * max(1.0, dense_spread)
    else:
        assert close(spread, dense_spread)
    dense_planning = PlanningReward(expected_rewards(mdp, r_inferred), spread)
    oracle = goal_directedness(mdp, trajectories, dense_planning, n_parameters=n_parameters)
    directed = got.directed
    for name in ("log_likelihood_ratio_per_step", "likelihood_ratio_statistic"):
        mine, theirs = getattr(directed, name), getattr(oracle, name)
        assert close(mine, theirs), (name, mine, theirs, kind)
    assert directed.degrees_of_freedom == oracle.degrees_of_freedom
    for test in ("goal_versus_uniform", "bias_versus_uniform", "bias_beyond_goal"):
        mine, theirs = getattr(directed, test), getattr(oracle, test)
        gain, expected = mine.log_likelihood_ratio_per_step, theirs.log_likelihood_ratio_per_step
        assert close(gain, expected), (test, gain, expected, kind)
    assert got.evidence.p_value == directed.p_value
    assert got.evidence.epic == got_epic


def test_linear_and_tabular_rewards_convert_exactly() -> None:
    rng = np.random.default_rng(5)
    mdp = random_mdp(rng, n_states=5, n_actions=3, discount=0.9, horizon=4)
    support = TransitionSupport.of(mdp)
    linear = LinearReward({"f0": 1.5, "f1": -0.5}, bias=0.25)
    expected = 0.25 + mdp.features @ np.array([1.5, -0.5])
    assert np.allclose(
        dense_array(sparse_reward(linear, mdp, support), support), expected[:, None, None]
    )
    by_pair = rng.normal(size=(5, 3))
    assert np.allclose(
        dense_array(sparse_reward(TabularReward(by_pair), mdp, support), support),
        by_pair[:, :, None],
    )
    # A full reward is kept on the support; constant-filled rows off it are exact.
    full = np.full((5, 3, 5), 0.7)
    full[support.states, support.actions, support.next_states] = rng.normal(size=support.nnz)
    assert np.allclose(dense_array(sparse_reward(TabularReward(full), mdp, support), support), full)


def test_metrics_of_concrete_rewards_match_the_exact_report_pair() -> None:
    rng = np.random.default_rng(11)
    mdp = random_mdp(rng, n_states=6, n_actions=2, discount=1.0, horizon=5)
    reference = LinearReward({"f0": 1.0})
    inferred = LinearReward({"f0": 0.8, "f1": 0.3})
    trajectories = random_trajectories(rng, mdp, 6)
    support = TransitionSupport.of(mdp)
    dense_ref = dense_array(sparse_reward(reference, mdp, support), support)
    dense_inf = dense_array(sparse_reward(inferred, mdp, support), support)
    expected = distances(
        ExactPair(mdp, dense_ref, dense_inf, 1.0, None, visit_counts(mdp, trajectories))
    )
    prepared = SparseReference.of(mdp, reference, n_parameters=2)
    got = sparse_metrics(prepared, inferred, trajectories)
    for name, value in expected.items():
        assert close(got[name], value, distance=True), name


def test_gain_and_bias_with_several_recurrent_classes_matches_least_squares() -> None:
    # Two absorbing states: the bordered system is singular; both fall back to least squares.
    rows = np.array([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    mdp = TabularMDP(
        name="two-goals",
        n_states=3,
        n_actions=1,
        transitions=scipy.sparse.csr_array(rows),
        initial_state_dist=np.array([1.0, 0.0, 0.0]),
        horizon=3,
        discount=1.0,
        feature_names=("f",),
        features=np.ones((3, 1)),
    )
    chain = uniform_chain(TransitionSupport.of(mdp))
    r_pi = np.array([0.3, 1.0, -2.0])
    gain, bias = gain_and_bias(chain, r_pi)
    dense_gain, dense_bias = _gain_and_bias(chain.toarray(), r_pi)
    assert gain == pytest.approx(dense_gain, abs=1e-7)
    assert bias == pytest.approx(dense_bias, abs=1e-7)


FOUR_CORNERS = [
    [3, 2, 1], [1, 0, 4], [5, 4, 0], [3], [4, 1, 2], [8, 7, 6], [10, 5, 9], [7, 9, 5],
    [8, 12, 11], [1, 6, 7], [10], [14, 8, 13], [12, 13, 8], [9, 11, 12], [17, 16, 15],
    [19, 14, 18], [16, 18, 14], [17], [12, 15, 16], [19],
]  # fmt: skip
"""Successors of a 20-state chain with four absorbing states (a MiniGrid view's uniform chain):
SuperLU crashed the process factorising its singular bordered-free system."""


def test_gain_and_bias_never_factorise_a_singular_system() -> None:
    rows = [row for row, successors in enumerate(FOUR_CORNERS) for _ in successors]
    cols = [col for successors in FOUR_CORNERS for col in successors]
    data = [1.0 / len(successors) for successors in FOUR_CORNERS for _ in successors]
    chain = scipy.sparse.csr_array((data, (rows, cols)), shape=(20, 20))
    assert recurrent_classes(chain) == 4
    r_pi = np.zeros(20)
    r_pi[17] = 1.0
    gain, bias = gain_and_bias(chain, r_pi)
    dense_gain, dense_bias = _gain_and_bias(chain.toarray(), r_pi)
    assert gain == pytest.approx(dense_gain, abs=1e-7)
    assert bias == pytest.approx(dense_bias, abs=1e-7)
    one_class = chain.tolil()
    one_class[3, 3], one_class[3, 0] = 0.0, 1.0
    assert recurrent_classes(one_class.tocsr()) == 3


def test_memory_estimate_is_linear_in_the_support_and_the_horizon() -> None:
    sizes = {"n_states": 10**4, "n_actions": 5, "nnz": 5 * 10**4, "horizon": 200, "n_steps": 10**4}
    base = report_memory_bytes(**sizes)
    assert base < 200 * 2**20
    doubled = report_memory_bytes(
        **{**sizes, "n_states": 2 * 10**4, "nnz": 10**5, "horizon": 400, "n_steps": 2 * 10**4}
    )
    fixed = 64 * 2**20
    assert (doubled - fixed) < 4.5 * (base - fixed)  # H * S is the only product
    assert report_memory_bytes(**sizes, n_bootstrap=20) - base < 2**20


@pytest.mark.parametrize("reward_model", ["linear", "tabular"])
def test_warm_refits_reach_the_cold_fit_of_each_resample(reward_model: str) -> None:
    spec = gridworld_spec(rows=5, cols=5, slip=0.1)
    mdp = parse_tabular_mdp(spec)
    ts = parse_trajectories(
        sample_trajectories(spec, n=30, rng=np.random.default_rng(3)), loc="trajectories"
    )
    tight: dict[str, Any] = {"linf_eps": 1e-12, "grad_l2_eps": 1e-9}
    model = cast(RewardModel, reward_model)
    full = mce_irl(
        mdp=mdp, trajectories=ts, reward_model=model, rng=np.random.default_rng(0), **tight
    )
    assert isinstance(full.reward, LinearReward | TabularReward)
    iterations: list[int] = []
    refit = warm_refit(
        mdp,
        reward_model=reward_model,
        params={**tight, "bootstrap_refit": "converged"},
        fitted=full.reward,
        record=iterations,
    )
    rng = np.random.default_rng(4)
    for _ in range(3):
        sample = resample(ts, rng)
        cold = mce_irl(
            mdp=mdp, trajectories=sample, reward_model=model, rng=np.random.default_rng(0), **tight
        )
        warm = refit(sample)
        if isinstance(warm, LinearReward):
            assert isinstance(cold.reward, LinearReward)
            assert dict(warm.weights) == pytest.approx(dict(cold.reward.weights), abs=1e-5)
        else:
            assert isinstance(cold.reward, TabularReward)
            assert warm.values == pytest.approx(cold.reward.values, abs=1e-4)
        assert iterations[-1] < cold.n_iterations


def gridworld_fit(seed: int) -> tuple[TabularMDP, TrajectorySet, LinearReward]:
    """A slippery 5x5 gridworld, 30 demonstrations and their linear MCE IRL fit."""
    spec = gridworld_spec(rows=5, cols=5, slip=0.1)
    mdp = parse_tabular_mdp(spec)
    ts = parse_trajectories(
        sample_trajectories(spec, n=30, rng=np.random.default_rng(seed)), loc="trajectories"
    )
    fitted = mce_irl(mdp=mdp, trajectories=ts, reward_model="linear", rng=np.random.default_rng(0))
    assert isinstance(fitted.reward, LinearReward)
    return mdp, ts, fitted.reward


def weights_of(reward: TabularReward | LinearReward, names: Sequence[str]) -> np.ndarray:
    """A linear reward's weights in the order of `names`."""
    assert isinstance(reward, LinearReward)
    return np.array([reward.weights[n] for n in names])


def test_a_one_step_refit_errs_to_second_order() -> None:
    """Data that are the full data k times plus one resample move the fit by O(1/k); a one-step
    refit's error against a converged one shrinks faster, O(1/k^2)."""
    mdp, ts, reward = gridworld_fit(5)
    tight: dict[str, Any] = {"linf_eps": 1e-12, "grad_l2_eps": 1e-10}
    names = mdp.feature_names
    one_step = warm_refit(
        mdp, reward_model="linear", params={**tight, "bootstrap_refit": "one_step"}, fitted=reward
    )
    converged = warm_refit(
        mdp,
        reward_model="linear",
        params={**tight, "bootstrap_refit": "converged"},
        fitted=reward,
    )
    theta = weights_of(reward, names)
    sample = resample(ts, np.random.default_rng(2))
    relative = []
    for copies in (0, 3):
        repeated = np.tile(np.arange(ts.n_trajectories), copies)
        data = sample if copies == 0 else concatenate([select(ts, repeated), sample])
        approximate = weights_of(one_step(data), names)
        exact = weights_of(converged(data), names)
        moved = float(np.linalg.norm(exact - theta))
        relative.append(float(np.linalg.norm(approximate - exact)) / moved)
    assert relative[0] < 0.5
    assert relative[1] < relative[0] / 2


def test_a_newton_refit_stops_near_the_converged_one() -> None:
    """The default refit stops once the resample's update is 5% of its start: within a few
    percent of its move from the full-data fit (0.8-4% here), in at most three evaluations."""
    mdp, ts, reward = gridworld_fit(6)
    tight: dict[str, Any] = {"linf_eps": 1e-12, "grad_l2_eps": 1e-10}
    names = mdp.feature_names
    evaluations: list[int] = []
    newton = warm_refit(mdp, reward_model="linear", params=tight, fitted=reward, record=evaluations)
    converged = warm_refit(
        mdp, reward_model="linear", params={**tight, "bootstrap_refit": "converged"}, fitted=reward
    )
    theta = weights_of(reward, names)
    rng = np.random.default_rng(3)
    for _ in range(4):
        sample = resample(ts, rng)
        stopped = weights_of(newton(sample), names)
        exact = weights_of(converged(sample), names)
        moved = float(np.linalg.norm(exact - theta))
        assert float(np.linalg.norm(stopped - exact)) <= 0.1 * moved
    assert 1 <= max(evaluations) <= 3


@pytest.mark.parametrize("beta", [0.0, 0.5, 3.0])
def test_streamed_soft_logits_match_the_dense_policy(beta: float) -> None:
    rng = np.random.default_rng(8)
    mdp = random_mdp(rng, n_states=6, n_actions=3, discount=0.9, horizon=5)
    support = TransitionSupport.of(mdp)
    reward = random_reward(rng, "full", support)
    policy = soft_optimal_policy(mdp, beta * dense_array(reward, support))
    times = rng.integers(0, mdp.horizon, size=12)
    states = rng.integers(0, mdp.n_states, size=12)
    logits = soft_logits_at(
        planning_dynamics(mdp), reward.expected(support), times=times, states=states, beta=beta
    )
    assert logits == pytest.approx(np.log(policy[times, states]), abs=1e-12)


@pytest.mark.parametrize("discount", [0.9, 1.0])
def test_optimal_and_uniform_returns_match_the_dense_policies(discount: float) -> None:
    rng = np.random.default_rng(9)
    mdp = random_mdp(rng, n_states=7, n_actions=3, discount=discount, horizon=6)
    support = TransitionSupport.of(mdp)
    dynamics = planning_dynamics(mdp)
    for kind in KINDS:
        reward = random_reward(rng, kind, support)
        dense, expected = dense_array(reward, support), reward.expected(support)
        start = mdp.initial_state_dist
        optimal = policy_value(mdp, dense, optimal_policy(mdp, dense))
        assert float(start @ optimal_values(dynamics, expected)) == pytest.approx(
            optimal, abs=1e-12
        )
        uniform = policy_value(mdp, dense, uniform_policy(mdp))
        visits = uniform_visits(dynamics)
        assert float(visits @ expected.mean(axis=1)) == pytest.approx(uniform, abs=1e-12)
