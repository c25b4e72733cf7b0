"""An inference's divergence report against a reward spec: one path for the worker (against the
training reward, with a bootstrap) and the `/divergence` endpoints (any reward spec)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session

from irl.divergence import RewardFn
from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.environments.gym_dynamics import environment_successors
from irl.environments.gym_rewards import known_reference
from irl.errors import InvalidInputError
from irl.report import ConcreteReward, Exact, Report, Sampled, fits_exact, reward_parameters
from irl.rewards import InferenceReward, RewardSpec, reward_to_spec
from service.inferences.inputs import JobInputs
from service.rewards import service as rewards


def subject(
    session: Session,
    inputs: JobInputs,
    inferred: ConcreteReward | RewardFn,
    reference: RewardSpec,
    *,
    loc: str,
) -> Exact | Sampled:
    """What the report compares: exact in a tabular environment, sampled in a gymnasium one.

    Raises InvalidInputError (naming `loc`) when the reference cannot be evaluated there.
    """
    env, job = inputs.environment, inputs.inference
    if isinstance(env, TabularMDP):
        if not fits_exact(env):
            raise InvalidInputError.at(
                "environment", f"{env.n_states} states are too many for exact distances"
            )
        assert not callable(inferred)
        concrete = rewards.concrete(
            session, job.project_id, reference, mdp=env, trajectories=inputs.trajectories, loc=loc
        )
        return Exact(env, inferred, concrete, reward_parameters(job.reward_model, env))
    assert isinstance(env, GymnasiumEnvSpec) and callable(inferred)
    known = known_reference(env.id, reference, inputs.trajectories)
    if known is None:
        raise InvalidInputError.at(
            loc,
            f"a network reward in {env.id} can be compared with `environment` (where its reward "
            "function is known) or `observed` (rollouts that recorded `rews`)",
        )
    return Sampled(
        inferred,
        known,
        discount=inputs.deep_params().discount,
        sample_next=environment_successors(env.id),
    )


def inferred_reward(session: Session, inputs: JobInputs) -> ConcreteReward | RewardFn:
    """The succeeded inference's reward, evaluable in its environment."""
    spec = InferenceReward(inputs.inference.id)
    project_id = inputs.inference.project_id
    if isinstance(inputs.environment, TabularMDP):
        return rewards.concrete(
            session, project_id, spec, mdp=inputs.environment, trajectories=None, loc="reward"
        )
    return rewards.reward_function(
        session,
        project_id,
        spec,
        env=inputs.environment,
        observation_size=math.prod(inputs.trajectories.obs.shape[1:]),
        loc="reward",
    )


def stored(
    subject: Exact | Sampled, spec: RewardSpec, report: Report, inputs: JobInputs
) -> dict[str, Any]:
    """The report as stored and served: the reference it was made against (resolved, for exact
    reports), the rollouts' identifiability (exact reports), and the report's fields."""
    if isinstance(subject, Exact):
        return {
            "against": reward_to_spec(subject.reference),
            "identifiability": inputs.rollouts.identifiability,
            **report.to_dict(),
        }
    return {"against": reward_to_spec(spec), **report.to_dict()}
