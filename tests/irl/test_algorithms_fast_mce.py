"""The fast MCE IRL solver: agreement with imitation's, exact gradients, protocol and memory."""

import importlib
from collections.abc import Iterator
from typing import Any

import imitation.algorithms.mce_irl as imitation_mce
import numpy as np
import pytest
from seals.base_envs import TabularModelPOMDP

from irl.algorithms import (
    Cancelled,
    MceIrlParams,
    Progress,
    RewardModel,
    mce_irl,
    mce_objective,
    validate_params,
)
from irl.algorithms.mce_irl import demo_occupancy, empirical_initial_dist
from irl.divergence import epic_distance
from irl.environments import TabularMDP
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from irl.rewards import LinearReward, TabularReward, reward_array
from irl.trajectories import TrajectorySet
from tests.irl.assertions import problems
from tests.irl.gridworld import gridworld_spec, sample_trajectories

mce_irl_module = importlib.import_module("irl.algorithms.mce_irl")
EPIC_TOLERANCE = 0.02
WEIGHT_TOLERANCE = 0.02


def demonstrations(
    n: int, *, stop_when_absorbed: bool = False, **spec_fields: Any
) -> tuple[TabularMDP, TrajectorySet]:
    """A gridworld and n soft-optimal demonstrations (seed 0)."""
    spec = gridworld_spec(**spec_fields)
    rng = np.random.default_rng(0)
    ts = parse_trajectories(
        sample_trajectories(spec, n=n, rng=rng, stop_when_absorbed=stop_when_absorbed)
    )
    return parse_tabular_mdp(spec), ts


def fit(mdp: TabularMDP, ts: TrajectorySet, model: RewardModel, solver: str, **kw: Any) -> Any:
    """mce_irl with a fixed seed."""
    return mce_irl(
        mdp=mdp,
        trajectories=ts,
        reward_model=model,
        rng=np.random.default_rng(1),
        solver=solver,  # type: ignore[arg-type]
        **kw,
    )


@pytest.fixture
def imitation_plans_with_the_discount(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make imitation's MCEIRL train the policy it returns: soft-optimal *with* the discount.

    MCEIRL._train_step calls mce_occupancy_measures without a policy, which plans with
    discount 1 whatever MCEIRL's discount (see test_imitation_trains_an_undiscounted_policy).
    """
    original = imitation_mce.mce_occupancy_measures

    def discounted(
        env: TabularModelPOMDP,
        *,
        reward: np.ndarray | None = None,
        pi: np.ndarray | None = None,
        discount: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        if pi is None:
            _, _, pi = imitation_mce.mce_partition_fh(env, reward=reward, discount=discount)
        return original(env, reward=reward, pi=pi, discount=discount)

    monkeypatch.setattr(imitation_mce, "mce_occupancy_measures", discounted)
    yield


def test_validate_params_solver() -> None:
    assert validate_params({}).solver == "fast" == MceIrlParams().solver
    assert validate_params({"solver": "imitation"}).solver == "imitation"
    assert problems(validate_params, {"solver": "dense"}) == [
        ("params.solver", "expected one of fast, imitation, got 'dense'")
    ]
    assert problems(validate_params, {"solver": 3}) == [
        ("params.solver", "expected one of fast, imitation, got number 3")
    ]


CASES = {
    "grid5": ({"rows": 5, "cols": 5}, "linear"),
    "slippery-two-features": (
        {"rows": 4, "cols": 4, "slip": 0.1, "reward": {"door": 3.0, "red": -1.0}},
        "linear",
    ),
    "absorbing-early-ends": ({"rows": 4, "cols": 4, "absorbing_door": True}, "linear"),
    "tabular": ({"rows": 4, "cols": 4, "slip": 0.05}, "tabular"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_agrees_with_imitation(case: str) -> None:
    fields, model = CASES[case]
    mdp, ts = demonstrations(30, stop_when_absorbed=bool(fields.get("absorbing_door")), **fields)
    if fields.get("absorbing_door"):
        assert (ts.lengths < mdp.horizon).any()
    fast, reference = (fit(mdp, ts, model, solver) for solver in ("fast", "imitation"))
    assert fast.converged and reference.converged
    assert fast.n_iterations < reference.n_iterations
    assert_same_reward(fast.reward, reference.reward, mdp)


def test_fast_agrees_with_imitation_with_a_discount(
    imitation_plans_with_the_discount: None,
) -> None:
    mdp, ts = demonstrations(30, rows=4, cols=4, slip=0.1, discount=0.9)
    fast, reference = (fit(mdp, ts, "linear", solver) for solver in ("fast", "imitation"))
    assert fast.converged and reference.converged
    assert_same_reward(fast.reward, reference.reward, mdp)


def test_imitation_trains_an_undiscounted_policy() -> None:
    mdp, ts = demonstrations(5, rows=3, cols=3, discount=0.5)
    env = pomdp(mdp, ts)
    reward = mdp.features @ np.array([2.0, -1.0, 0.5])
    _, default = imitation_mce.mce_occupancy_measures(env, reward=reward, discount=0.5)
    _, _, undiscounted = imitation_mce.mce_partition_fh(env, reward=reward)
    _, explicit = imitation_mce.mce_occupancy_measures(
        env, reward=reward, pi=undiscounted, discount=0.5
    )
    np.testing.assert_allclose(default, explicit, rtol=1e-12)


@pytest.mark.parametrize("model", ["linear", "tabular"])
def test_gradient_matches_finite_differences(model: RewardModel) -> None:
    mdp, ts = demonstrations(10, rows=3, cols=4, slip=0.2, discount=0.9, absorbing_door=True)
    objective = mce_objective(mdp, ts, reward_model=model, l2_penalty=0.05)
    theta = np.random.default_rng(0).normal(size=objective.n_parameters)
    step = 1e-6
    numeric = [
        (objective.evaluate(theta + step * e).value - objective.evaluate(theta - step * e).value)
        / (2 * step)
        for e in np.eye(objective.n_parameters)
    ]
    np.testing.assert_allclose(objective.evaluate(theta).gradient, numeric, atol=1e-6)


def test_update_is_imitations_penalised_gradient() -> None:
    mdp, ts = demonstrations(10, rows=3, cols=4, slip=0.2, discount=0.9)
    objective = mce_objective(mdp, ts, reward_model="linear", l2_penalty=0.05)
    theta = np.array([1.5, -0.5, 0.25])
    env = pomdp(mdp, ts)
    rewards = mdp.features @ theta
    _, _, pi = imitation_mce.mce_partition_fh(env, reward=rewards, discount=mdp.discount)
    _, visits = imitation_mce.mce_occupancy_measures(
        env, reward=rewards, pi=pi, discount=mdp.discount
    )
    demo = demo_occupancy(mdp, ts)
    expected = mdp.features.T @ (visits - demo) + 0.05 * theta
    evaluation = objective.evaluate(theta)
    np.testing.assert_allclose(evaluation.update, expected, atol=1e-12)
    assert evaluation.linf_delta == pytest.approx(float(np.abs(visits - demo).max()), abs=1e-12)


def test_progress_is_reported_per_iteration() -> None:
    mdp, ts = demonstrations(10, rows=4, cols=4)
    reports: list[Progress] = []
    result = fit(mdp, ts, "linear", "fast", progress=reports.append)
    assert [p.iteration for p in reports] == list(range(1, result.n_iterations + 1))
    assert reports[-1].fraction == 1.0 and result.converged
    assert set(reports[0].metrics) == {"linf_delta", "grad_norm"}
    assert [entry["iteration"] for entry in result.curve] == [float(p.iteration) for p in reports]
    assert result.curve[-1]["grad_norm"] <= MceIrlParams().grad_l2_eps


def test_max_iter_is_respected() -> None:
    mdp, ts = demonstrations(10, rows=4, cols=4)
    result = fit(mdp, ts, "linear", "fast", max_iter=3, grad_l2_eps=0.0, linf_eps=0.0)
    assert result.n_iterations == 3 and not result.converged


def test_should_stop_cancels() -> None:
    mdp, ts = demonstrations(10, rows=4, cols=4)
    calls: list[int] = []

    def stop_on_third_check() -> bool:
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(Cancelled, match="after 2 iterations"):
        fit(mdp, ts, "linear", "fast", should_stop=stop_on_third_check)
    with pytest.raises(Cancelled, match="after 0 iterations"):
        fit(mdp, ts, "tabular", "fast", should_stop=lambda: True)


@pytest.mark.parametrize("model", ["linear", "tabular"])
def test_same_result_whatever_the_seed(model: RewardModel) -> None:
    mdp, ts = demonstrations(10, rows=4, cols=4)
    runs = [
        mce_irl(mdp=mdp, trajectories=ts, reward_model=model, rng=np.random.default_rng(seed))
        for seed in (7, 7, 8)
    ]
    arrays = [reward_array(run.reward, mdp) for run in runs]
    np.testing.assert_array_equal(arrays[0], arrays[1])
    np.testing.assert_array_equal(arrays[0], arrays[2])
    assert runs[0].curve == runs[1].curve


def test_fast_never_builds_dense_transitions(monkeypatch: pytest.MonkeyPatch) -> None:
    mdp, ts = demonstrations(10, rows=4, cols=4)

    def refuse(self: TabularMDP) -> np.ndarray:
        raise AssertionError("dense S x A x S transitions built")

    monkeypatch.setattr(TabularMDP, "dense_transitions", refuse)
    monkeypatch.setattr(mce_irl_module, "MAX_DENSE_TRANSITION_ENTRIES", 10)
    for model in ("linear", "tabular"):
        assert fit(mdp, ts, model, "fast").converged
    assert problems(fit, mdp, ts, "linear", "imitation")[0][0] == "environment"


def test_mlp_falls_back_to_imitation() -> None:
    mdp, ts = demonstrations(10, rows=3, cols=3)
    fast, reference = (fit(mdp, ts, "mlp", solver, max_iter=10) for solver in ("fast", "imitation"))
    assert isinstance(fast.reward, TabularReward) and isinstance(reference.reward, TabularReward)
    np.testing.assert_array_equal(fast.reward.values, reference.reward.values)


def assert_same_reward(
    fast: TabularReward | LinearReward, reference: TabularReward | LinearReward, mdp: TabularMDP
) -> None:
    """EPIC within tolerance, and linear weights close (they are identified up to the prior)."""
    a, b = reward_array(fast, mdp), reward_array(reference, mdp)
    assert epic_distance(a, b, discount=mdp.discount) <= EPIC_TOLERANCE
    if isinstance(fast, LinearReward) and isinstance(reference, LinearReward):
        assert fast.bias == 0.0 and abs(reference.bias) < WEIGHT_TOLERANCE
        for name in mdp.feature_names:
            assert fast.weights[name] == pytest.approx(
                reference.weights[name], abs=WEIGHT_TOLERANCE
            )


def pomdp(mdp: TabularMDP, ts: TrajectorySet) -> TabularModelPOMDP:
    """imitation's environment for a small MDP, started where the demonstrations start."""
    return TabularModelPOMDP(
        transition_matrix=mdp.dense_transitions(),
        observation_matrix=mdp.features.copy(),
        reward_matrix=np.zeros(mdp.n_states),
        horizon=mdp.horizon,
        initial_state_dist=empirical_initial_dist(mdp, ts),
    )
