"""Computing distances between two reward specs."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from irl.algorithms.deep_params import DEFAULT_DISCOUNT
from irl.divergence import ExactPair, distances, transition_coverage
from irl.divergence.sparse import sparse_distances
from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.environments.gym_dynamics import environment_successors
from irl.errors import InvalidInputError, Problem
from irl.report import sampled_pair
from irl.rewards import reward_array
from irl.rewards_sparse import TransitionSupport, sparse_reward
from service.comparisons.schemas import ComparisonCreate, RolloutsCoverage
from service.core.errors import invalid_input
from service.core.settings import Settings
from service.environments import service as environments
from service.rewards import service as rewards
from service.rollouts import service as rollouts


def _environment(
    session: Session, project_id: str, spec: dict[str, Any], settings: Settings
) -> TabularMDP | GymnasiumEnvSpec:
    """The comparison's environment, inline (not stored) or by reference."""
    if set(spec) == {"id"}:
        row = environments.get_row(session, project_id, str(spec["id"]), with_spec=True)
        model = environments.load(row, settings)
    else:
        model = environments.parse(spec, settings)
    return model


MAX_DENSE_ENTRIES = 50_000_000
"""Largest S*A*S for which a comparison builds dense (S, A, S) arrays (float64: 400 MB each):
coverages other than `uniform` need them; uniform coverage beyond it uses the sparse forms."""


def _dense_fits(mdp: TabularMDP) -> bool:
    return mdp.n_states * mdp.n_actions * mdp.n_states <= MAX_DENSE_ENTRIES


def _coverage(
    session: Session, project_id: str, mdp: TabularMDP, coverage: str | RolloutsCoverage
) -> tuple[np.ndarray | None, str, Any]:
    """Coverage weights (S, A, S) or None for uniform, its name, and the rollouts if any."""
    if coverage == "uniform":
        return None, "uniform", None
    if coverage == "transitions":
        return transition_coverage(mdp), "transitions", None
    assert isinstance(coverage, RolloutsCoverage)
    row = rollouts.get_row(session, project_id, coverage.rollouts_id)
    ts = rollouts.load_trajectories(session, row)
    if ts.obs.ndim != 1:
        raise _problem("coverage.rollouts_id", "rollouts are not tabular")
    s, a, s_next = ts.transitions()
    if s.size and (max(s.max(), s_next.max()) >= mdp.n_states or a.max() >= mdp.n_actions):
        raise _problem(
            "coverage.rollouts_id", "the rollouts visit states or actions outside this environment"
        )
    weights = np.zeros((mdp.n_states, mdp.n_actions, mdp.n_states))
    np.add.at(weights, (s, a, s_next), 1.0)
    return weights, f"rollouts:{row.id}", ts


def compare(
    session: Session,
    project_id: str,
    body: ComparisonCreate,
    settings: Settings,
    *,
    only: Collection[str] | None = None,
) -> dict[str, Any]:
    """Every registered distance between rewards `a` and `b` under the requested coverage
    (ComparisonPublic's fields); with `only`, just those distances are computed."""
    mdp = _environment(session, project_id, body.environment, settings)
    if isinstance(mdp, GymnasiumEnvSpec):
        return _compare_sampled(session, project_id, mdp, body, settings, only)
    if not _dense_fits(mdp) and body.coverage != "uniform":
        gigabytes = mdp.n_states**2 * mdp.n_actions * 8 / 1e9
        raise _problem(
            "coverage",
            f"this coverage needs dense (S, A, S) arrays of {gigabytes:.1f} GB for "
            f"{mdp.n_states} states; use `uniform` coverage (computed without them)",
        )
    weights, coverage_name, ts = _coverage(session, project_id, mdp, body.coverage)
    concrete = [
        rewards.concrete(
            session,
            project_id,
            rewards.parse(spec, loc=loc, mdp=mdp),
            mdp=mdp,
            trajectories=ts,
            loc=loc,
        )
        for loc, spec in (("a", body.a), ("b", body.b))
    ]
    discount = body.discount if body.discount is not None else mdp.discount
    if not _dense_fits(mdp):
        support = TransitionSupport.of(mdp)
        a, b = (sparse_reward(r, mdp, support) for r in concrete)
        computed = sparse_distances(mdp, a, b, discount=discount, visited=None, support=support)
        chosen = {k: v for k, v in computed.items() if only is None or k in only}
        return {**chosen, "discount": discount, "coverage": coverage_name}
    ra, rb = (reward_array(r, mdp) for r in concrete)
    visited = weights if isinstance(body.coverage, RolloutsCoverage) else None
    pair = ExactPair(mdp, ra, rb, discount, coverage=weights, visited=visited)
    return {**distances(pair, only=only), "discount": discount, "coverage": coverage_name}


def _compare_sampled(
    session: Session,
    project_id: str,
    env: GymnasiumEnvSpec,
    body: ComparisonCreate,
    settings: Settings,
    only: Collection[str] | None,
) -> dict[str, Any]:
    """Sampled EPIC and DARD (where the dynamics are known) in a gymnasium environment, with
    the visited transitions of a rollout set of that environment as coverage."""
    if not isinstance(body.coverage, RolloutsCoverage):
        raise _problem(
            "coverage",
            'in a gymnasium environment give `{"rollouts_id": ...}`: sampled distances are '
            "estimated over visited transitions",
        )
    row = rollouts.get_row(session, project_id, body.coverage.rollouts_id)
    visited = environments.load(
        environments.get_row(session, project_id, row.environment_id, with_spec=True), settings
    )
    if not isinstance(visited, GymnasiumEnvSpec) or visited.id != env.id:
        raise _problem("coverage.rollouts_id", f"the rollouts are not of {env.id}")
    ts = rollouts.load_trajectories(session, row)
    width = math.prod(ts.obs.shape[1:])
    a, b = (
        rewards.reward_function(
            session,
            project_id,
            rewards.parse(spec, loc=loc, mdp=None),
            env=env,
            observation_size=width,
            loc=loc,
        )
        for loc, spec in (("a", body.a), ("b", body.b))
    )
    discount = body.discount if body.discount is not None else DEFAULT_DISCOUNT
    pair = sampled_pair(a, b, ts, discount=discount, sample_next=environment_successors(env.id))
    return {
        **distances(pair, np.random.default_rng(0), only=only),
        "discount": discount,
        "coverage": f"rollouts:{row.id}",
    }


def _problem(loc: str, message: str) -> Exception:
    """A 422 naming the field."""
    return invalid_input(InvalidInputError([Problem(loc, message)]))
