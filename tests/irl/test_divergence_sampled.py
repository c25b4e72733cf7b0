"""Monte Carlo EPIC and DARD for reward callables converge to the exact tabular values."""

import numpy as np
import pytest
import scipy.sparse

from irl.divergence import (
    NextStateSampler,
    RewardFn,
    TransitionBatch,
    dard_distance,
    epic_distance,
    sampled_dard_distance,
    sampled_epic_distance,
    transition_coverage,
)
from irl.environments import TabularMDP
from irl.errors import InvalidInputError
from tests.irl.assertions import problems

N_STATES, N_ACTIONS, DISCOUNT = 4, 2, 0.9


@pytest.fixture(scope="module")
def setting() -> tuple[TabularMDP, np.ndarray, np.ndarray]:
    """A stochastic 4-state, 2-action MDP (some transitions impossible) and two rewards."""
    rng = np.random.default_rng(7)
    dynamics = rng.random((N_STATES, N_ACTIONS, N_STATES)) * (
        rng.random((N_STATES, N_ACTIONS, N_STATES)) < 0.6
    )
    dynamics[..., 0] += 0.1
    dynamics /= dynamics.sum(axis=2, keepdims=True)
    mdp = TabularMDP(
        name="stochastic",
        n_states=N_STATES,
        n_actions=N_ACTIONS,
        transitions=scipy.sparse.csr_array(dynamics.reshape(-1, N_STATES)),
        initial_state_dist=np.full(N_STATES, 1.0 / N_STATES),
        horizon=3,
        discount=DISCOUNT,
        feature_names=("bias",),
        features=np.ones((N_STATES, 1)),
    )
    shape = (N_STATES, N_ACTIONS, N_STATES)
    return mdp, rng.normal(size=shape), rng.normal(size=shape)


def lookup(reward: np.ndarray) -> RewardFn:
    """A batched callable reading a tabular reward."""
    return lambda s, a, s_next: reward[s, a, s_next]


def one_hot_lookup(reward: np.ndarray) -> RewardFn:
    """A batched callable reading a tabular reward from one-hot (K, S) observations."""
    return lambda s, a, s_next: reward[s.argmax(axis=1), a, s_next.argmax(axis=1)]


def all_transitions(weights: np.ndarray | None = None) -> TransitionBatch:
    """Every (s, a, s') once, with the given (S, A, S) weights flattened."""
    s, a, s_next = (x.ravel() for x in np.indices((N_STATES, N_ACTIONS, N_STATES)))
    return TransitionBatch(
        obs=s, acts=a, next_obs=s_next, weights=None if weights is None else weights.ravel()
    )


def dynamics_sampler(mdp: TabularMDP, rng: np.random.Generator) -> NextStateSampler:
    """next states ~ T(. | s, a) for index arrays, by inverse CDF."""
    cumulative = np.cumsum(mdp.dense_transitions(), axis=2)

    def sample(s: np.ndarray, a: np.ndarray) -> np.ndarray:
        u = rng.random(len(s))[:, None]
        return np.minimum((cumulative[s, a] < u).sum(axis=1), N_STATES - 1)

    return sample


def epic_error(a: np.ndarray, b: np.ndarray, n_samples: int, seed: int) -> float:
    """|sampled - exact| EPIC with n_samples state and action samples."""
    rng = np.random.default_rng(seed)
    estimate = sampled_epic_distance(
        lookup(a),
        lookup(b),
        all_transitions(),
        discount=DISCOUNT,
        states=rng.integers(N_STATES, size=n_samples),
        actions=rng.integers(N_ACTIONS, size=n_samples),
    )
    return abs(estimate - epic_distance(a, b, discount=DISCOUNT))


def dard_error(mdp: TabularMDP, a: np.ndarray, b: np.ndarray, n_samples: int, seed: int) -> float:
    """|sampled - exact| DARD with n_samples action samples per coverage transition."""
    rng = np.random.default_rng(seed)
    estimate = sampled_dard_distance(
        lookup(a),
        lookup(b),
        all_transitions(transition_coverage(mdp)),
        discount=DISCOUNT,
        actions=rng.integers(N_ACTIONS, size=n_samples),
        sample_next=dynamics_sampler(mdp, rng),
    )
    return abs(estimate - dard_distance(mdp, a, b, discount=DISCOUNT))


def test_sampled_epic_converges(setting: tuple[TabularMDP, np.ndarray, np.ndarray]) -> None:
    _, a, b = setting
    few = np.mean([epic_error(a, b, 10, seed) for seed in range(5)])
    many = [epic_error(a, b, 2000, seed) for seed in range(5)]
    assert max(many) < 0.01
    assert np.mean(many) < few / 3


def test_sampled_dard_converges(setting: tuple[TabularMDP, np.ndarray, np.ndarray]) -> None:
    mdp, a, b = setting
    few = np.mean([dard_error(mdp, a, b, 10, seed) for seed in range(5)])
    many = [dard_error(mdp, a, b, 3000, seed) for seed in range(5)]
    assert max(many) < 0.01
    assert np.mean(many) < few / 3


def test_vector_observations_give_the_same_estimates(
    setting: tuple[TabularMDP, np.ndarray, np.ndarray],
) -> None:
    mdp, a, b = setting
    eye = np.eye(N_STATES)
    transitions = all_transitions(transition_coverage(mdp))
    vectors = TransitionBatch(
        obs=eye[transitions.obs],
        acts=transitions.acts,
        next_obs=eye[transitions.next_obs],
        weights=transitions.weights,
    )
    rng = np.random.default_rng(3)
    states, actions = rng.integers(N_STATES, size=200), rng.integers(N_ACTIONS, size=200)
    by_index = sampled_epic_distance(
        lookup(a), lookup(b), transitions, discount=DISCOUNT, states=states, actions=actions
    )
    by_vector = sampled_epic_distance(
        one_hot_lookup(a),
        one_hot_lookup(b),
        vectors,
        discount=DISCOUNT,
        states=eye[states],
        actions=actions,
    )
    assert by_vector == pytest.approx(by_index, abs=1e-12)
    index_sampler = dynamics_sampler(mdp, np.random.default_rng(4))
    vector_sampler = dynamics_sampler(mdp, np.random.default_rng(4))
    by_index = sampled_dard_distance(
        lookup(a),
        lookup(b),
        transitions,
        discount=DISCOUNT,
        actions=actions,
        sample_next=index_sampler,
    )
    by_vector = sampled_dard_distance(
        one_hot_lookup(a),
        one_hot_lookup(b),
        vectors,
        discount=DISCOUNT,
        actions=actions,
        sample_next=lambda s, act: eye[vector_sampler(s.argmax(axis=1), act)],
    )
    assert by_vector == pytest.approx(by_index, abs=1e-12)


def test_invalid_inputs(setting: tuple[TabularMDP, np.ndarray, np.ndarray]) -> None:
    _, a, _ = setting
    assert problems(TransitionBatch, np.zeros(3), np.zeros(2), np.zeros(3)) == [
        ("transitions", "obs, acts and next_obs need the same non-zero length, got 3, 2 and 3"),
    ]
    samples = np.zeros(5, dtype=int)
    batch = all_transitions()
    assert problems(
        sampled_epic_distance,
        lambda s, act, s_next: np.zeros((len(s), 2)),
        lookup(a),
        batch,
        discount=0.5,
        states=samples,
        actions=samples,
    ) == [("reward", "returned shape [345, 2], expected [345]")]
    assert problems(
        sampled_epic_distance,
        lookup(a),
        lookup(a),
        batch,
        discount=0.5,
        states=samples,
        actions=samples[:3],
    ) == [("samples", "need as many state as action samples, at least 2; got 5 and 3")]
    with pytest.raises(InvalidInputError):
        sampled_epic_distance(
            lambda s, act, s_next: np.full(len(s), np.nan),
            lookup(a),
            batch,
            discount=0.5,
            states=samples,
            actions=samples,
        )
