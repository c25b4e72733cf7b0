"""Pooled environments: the block-diagonal MDP, its trajectory split, and one fit over all."""

import io

import numpy as np
import pytest

from irl.algorithms import ALGORITHMS
from irl.environments import TabularMDP
from irl.environments.pooled import pool, split_trajectories, to_pooled_states
from irl.errors import InvalidInputError
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import (
    environment_indices,
    from_npz_bytes,
    parse_trajectories,
    pooled_from_npz_bytes,
    to_npz_bytes,
)
from irl.report.pooled import per_environment
from irl.rewards import LinearReward
from irl.trajectories import TrajectorySet, concatenate
from tests.irl.gridworld import gridworld_spec, sample_trajectories


def grid(rows: int, cols: int, **overrides: object) -> TabularMDP:
    """A small gridworld with horizon 10, starting in the top-left corner."""
    spec = gridworld_spec(rows=rows, cols=cols, start=(0, 0), horizon=10, name=f"g{rows}x{cols}")
    spec.update(overrides)
    return parse_tabular_mdp(spec)


def demos(mdp: TabularMDP, n: int, seed: int) -> TrajectorySet:
    """n soft-optimal door-seeking trajectories in `mdp`."""
    spec = mdp.to_spec()
    return parse_trajectories(sample_trajectories(spec, n=n, rng=np.random.default_rng(seed)))


def test_pooled_mdp_of_different_sizes_is_block_diagonal_with_count_weighted_starts() -> None:
    small, large = grid(2, 3), grid(3, 4)
    pooled = pool([small, large], [1, 3])
    mdp = pooled.mdp
    assert pooled.offsets.tolist() == [0, 6, 18]
    assert mdp.n_states == 18 and mdp.horizon == 10
    dense = mdp.dense_transitions()
    assert np.allclose(dense[:6, :, :6], small.dense_transitions())
    assert np.allclose(dense[6:, :, 6:], large.dense_transitions())
    assert dense[:6, :, 6:].sum() == 0 and dense[6:, :, :6].sum() == 0
    assert np.allclose(mdp.initial_state_dist[:6], 0.25 * small.initial_state_dist)
    assert np.allclose(mdp.initial_state_dist[6:], 0.75 * large.initial_state_dist)
    assert np.allclose(mdp.features, np.concatenate([small.features, large.features]))
    assert mdp.layout is not None and mdp.layout.rows == 2 + 1 + 3
    block = pooled.block(1)
    assert np.allclose(block.dense_transitions(), large.dense_transitions())
    assert np.allclose(block.initial_state_dist, large.initial_state_dist)


def test_features_are_matched_by_name_in_any_order() -> None:
    first = grid(2, 2)
    spec = first.to_spec()
    spec["features"] = {
        "names": ["blue", "door", "red"],
        "values": first.features[:, [2, 0, 1]].tolist(),
    }
    pooled = pool([first, parse_tabular_mdp(spec)], [1, 1])
    assert np.allclose(pooled.mdp.features[4:], first.features)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"discount": 0.9}, "environments[1].discount"),
        ({"horizon": 11}, "environments[1].horizon"),
        (
            {"features": {"names": ["door", "red", "green"], "values": [[0, 0, 0]] * 4}},
            "environments[1].features.names",
        ),
    ],
)
def test_environments_that_disagree_are_refused_naming_the_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError) as error:
        pool([grid(2, 2), grid(2, 2, **overrides)], [1, 1])
    assert [p.loc for p in error.value.problems] == [field]


def test_split_inverts_offsetting_and_finds_each_trajectorys_environment() -> None:
    small, large = grid(2, 3), grid(3, 4)
    a, b = demos(small, 3, seed=1), demos(large, 2, seed=2)
    both = concatenate([b, a])
    environment = np.array([1, 1, 0, 0, 0])
    pooled = pool([small, large], np.bincount(environment, minlength=2))
    shifted = to_pooled_states(both, environment, pooled.offsets)
    assert pooled.environment_of(shifted).tolist() == environment.tolist()
    first, second = split_trajectories(pooled, shifted)
    assert first is not None and second is not None
    assert np.array_equal(first.obs, a.obs) and np.array_equal(second.obs, b.obs)
    assert np.array_equal(first.acts, a.acts) and np.array_equal(second.lengths, b.lengths)


def fit_linear(mdp: TabularMDP, trajectories: TrajectorySet) -> np.ndarray:
    """Feature weights of a linear MCE IRL fit."""
    result = ALGORITHMS["mce_irl"].fit(
        environment=mdp,
        trajectories=trajectories,
        reward_model="linear",
        params={},
        rng=np.random.default_rng(0),
        progress=None,
        should_stop=lambda: False,
    )
    assert isinstance(result.reward, LinearReward)
    return np.array([result.reward.weights.get(f, 0.0) for f in mdp.feature_names])


def test_pooling_copies_of_one_environment_fits_what_one_environment_fits() -> None:
    """With count-weighted starts the pooled likelihood is the single environment's."""
    mdp = grid(3, 3)
    ts = demos(mdp, 12, seed=3)
    environment = np.array([0, 1, 1] * 4)
    pooled = pool([mdp, mdp], np.bincount(environment))
    shifted = to_pooled_states(ts, environment, pooled.offsets)
    assert np.allclose(fit_linear(pooled.mdp, shifted), fit_linear(mdp, ts), atol=1e-3)


def test_breakdown_has_one_row_per_environment_with_its_own_counts() -> None:
    small, large = grid(2, 3), grid(3, 4)
    both = concatenate([demos(small, 4, seed=4), demos(large, 6, seed=5)])
    environment = np.array([0] * 4 + [1] * 6)
    pooled = pool([small, large, grid(2, 2)], np.bincount(environment, minlength=3))
    rows = per_environment(
        pooled,
        to_pooled_states(both, environment, pooled.offsets),
        inferred=LinearReward({"door": 2.0}),
        reference=LinearReward({"door": 3.0}),
        reward_model="linear",
        rng=np.random.default_rng(0),
    )
    assert [(r.name, r.n_states, r.n_trajectories) for r in rows] == [
        ("g2x3", 6, 4),
        ("g3x4", 12, 6),
        ("g2x2", 4, 0),
    ]
    assert rows[0].epic == pytest.approx(0.0, abs=1e-6)
    assert rows[1].normalized_return is not None and rows[1].normalized_return > 0.5
    assert rows[2].epic is None and rows[2].note == "no trajectories"


def test_a_state_outside_its_own_environment_is_refused_where_it_is() -> None:
    small, large = grid(2, 3), grid(3, 4)
    ts = parse_trajectories([{"obs": [0, 1, 7], "acts": [4, 4]}, {"obs": [0, 1], "acts": [4]}])
    offsets = pool([small, large], [1, 1]).offsets
    with pytest.raises(InvalidInputError) as error:
        to_pooled_states(ts, np.array([0, 1]), offsets)
    [problem] = error.value.problems
    assert problem.loc == "trajectories[0].obs[2]"
    assert "out of range [0, 6) of its environment 0" in problem.msg


def test_environment_indices_are_all_or_nothing_and_in_range() -> None:
    items = [{"obs": [0, 1], "acts": [4], "environment": 1}, {"obs": [0, 1], "acts": [4]}]
    with pytest.raises(InvalidInputError) as error:
        environment_indices(items, n_environments=2)
    assert error.value.problems[0].loc == "trajectories[1].environment"
    with pytest.raises(InvalidInputError) as error:
        environment_indices(items, n_environments=None)
    assert error.value.problems[0].loc == "trajectories[0].environment"
    items[1]["environment"] = True
    with pytest.raises(InvalidInputError) as error:
        environment_indices(items, n_environments=2)
    assert error.value.problems[0].loc == "trajectories[1].environment"
    items[1]["environment"] = 0
    indices = environment_indices(items, n_environments=2)
    assert indices is not None and indices.tolist() == [1, 0]


def test_npz_environment_member_is_required_in_pooled_sets_and_refused_otherwise() -> None:
    ts = parse_trajectories([{"obs": [0, 1], "acts": [4]}, {"obs": [2, 2], "acts": [0]}])
    plain = to_npz_bytes(ts)
    with pytest.raises(InvalidInputError) as error:
        pooled_from_npz_bytes(plain, n_environments=2)
    assert error.value.problems[0].loc == "file.environment"
    buffer = io.BytesIO()
    np.savez(
        buffer,
        obs=ts.obs,
        acts=ts.acts,
        terminal=ts.terminal,
        lengths=ts.lengths,
        environment=np.array([1, 0]),
    )
    named = buffer.getvalue()
    _, environment = pooled_from_npz_bytes(named, n_environments=2)
    assert environment.tolist() == [1, 0]
    with pytest.raises(InvalidInputError) as error:
        from_npz_bytes(named)
    assert error.value.problems[0].loc == "trajectories.environment"


def test_environment_indices_accept_integral_floats_like_other_indices() -> None:
    items = [{"obs": [0, 1], "acts": [4], "environment": 1.0}]
    indices = environment_indices(items, n_environments=2)
    assert indices is not None and indices.tolist() == [1]
    items[0]["environment"] = 1.5
    with pytest.raises(InvalidInputError):
        environment_indices(items, n_environments=2)
