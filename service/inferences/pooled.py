"""The per-environment breakdown of a pooled rollout set's training report (irl.report.pooled),
added to the stored report under `environments`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from irl.io.rewards import parse_reward_spec
from irl.report import ConcreteReward
from irl.report.pooled import per_environment
from irl.rewards import LinearReward, TabularReward
from service.core.db import unit_of_work
from service.core.settings import Settings
from service.inferences.inputs import JobInputs
from service.rollouts.pooled import load_pooled


def breakdown(
    settings: Settings, inputs: JobInputs, inferred: object, report: Mapping[str, Any]
) -> dict[str, Any]:
    """`{"environments": [...]}` for the training report of a pooled set's tabular inference
    (its reference is the report's resolved `against`); `{}` for any other inference."""
    if not isinstance(inferred, TabularReward | LinearReward):
        return {}
    with unit_of_work(settings) as uow:
        pooled = load_pooled(uow.session, inputs.inference.project_id, inputs.rollouts, settings)
    if pooled is None:
        return {}
    reference = parse_reward_spec(report["against"], loc="training_reward", mdp=pooled.mdp)
    assert isinstance(reference, TabularReward | LinearReward)
    concrete: ConcreteReward = reference
    rows = per_environment(
        pooled,
        inputs.trajectories,
        inferred=inferred,
        reference=concrete,
        reward_model=inputs.inference.reward_model,
        rng=np.random.default_rng(inputs.inference.seed),
    )
    return {"environments": [row.to_dict() for row in rows]}
