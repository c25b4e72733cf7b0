"""Computing distances between two reward specs."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from irl.divergence import tabular_distances, transition_coverage
from irl.environments import TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.rewards import reward_array
from service.comparisons.schemas import ComparisonCreate, ComparisonPublic, RolloutsCoverage
from service.core.errors import invalid_input
from service.core.settings import Settings
from service.environments import service as environments
from service.inferences.compute import reportable
from service.rewards import service as rewards
from service.rollouts import service as rollouts


def _environment(
    session: Session, project_id: str, spec: dict[str, Any], settings: Settings
) -> TabularMDP:
    """The comparison's environment, inline (not stored) or by reference."""
    if set(spec) == {"id"}:
        row = environments.get_row(session, project_id, str(spec["id"]), with_spec=True)
        model = environments.load(row, settings)
    else:
        model = environments.parse(spec, settings)
    if isinstance(model, TabularMDP) and not reportable(model):
        raise invalid_input(
            InvalidInputError(
                [
                    Problem(
                        "environment", f"{model.n_states} states are too many for exact distances"
                    )
                ]
            )
        )
    if not isinstance(model, TabularMDP):
        raise invalid_input(
            InvalidInputError(
                [
                    Problem(
                        "environment",
                        "comparisons of gymnasium environments need sampled coverage; "
                        "give a tabular environment",
                    )
                ]
            )
        )
    return model


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
        raise invalid_input(
            InvalidInputError([Problem("coverage.rollouts_id", "rollouts are not tabular")])
        )
    s, a, s_next = ts.transitions()
    if s.size and (max(s.max(), s_next.max()) >= mdp.n_states or a.max() >= mdp.n_actions):
        raise invalid_input(
            InvalidInputError(
                [
                    Problem(
                        "coverage.rollouts_id",
                        "the rollouts visit states or actions outside this environment",
                    )
                ]
            )
        )
    weights = np.zeros((mdp.n_states, mdp.n_actions, mdp.n_states))
    np.add.at(weights, (s, a, s_next), 1.0)
    return weights, f"rollouts:{row.id}", ts


def compare(
    session: Session, project_id: str, body: ComparisonCreate, settings: Settings
) -> ComparisonPublic:
    """EPIC between rewards `a` and `b` under the requested coverage."""
    mdp = _environment(session, project_id, body.environment, settings)
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
    ra, rb = (reward_array(r, mdp) for r in concrete)
    visited = weights if isinstance(body.coverage, RolloutsCoverage) else None
    distances = tabular_distances(mdp, ra, rb, discount=discount, coverage=weights, visited=visited)
    return ComparisonPublic(**distances, discount=discount, coverage=coverage_name)
