"""An inference's divergence report against a reward spec: one path for the worker (against the
training reward, with a bootstrap) and the `/divergence` endpoints (any reward spec)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from irl.divergence import RewardFn
from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.environments.gym_dynamics import environment_successors
from irl.environments.gym_rewards import known_reference
from irl.errors import InvalidInputError
from irl.goal_directedness import PlanningReward
from irl.hypotheses import MAX_CANDIDATES, Hypotheses, default_candidates, fit_hypotheses
from irl.report import ConcreteReward, Exact, Report, Sampled, reward_parameters
from irl.rewards import InferenceReward, RewardSpec, reward_to_spec
from irl.rewards_sparse import TransitionSupport, sparse_reward
from irl.verdict import DEFAULT_THRESHOLDS
from service.inferences.inputs import JobInputs
from service.rewards import service as rewards


def subject(
    session: Session,
    inputs: JobInputs,
    inferred: ConcreteReward | RewardFn,
    reference: RewardSpec,
    *,
    loc: str,
    goals: Mapping[str, Any] | None = None,
    feature_goals: bool = True,
) -> Exact | Sampled:
    """What the report compares: exact in a tabular environment, sampled in a gymnasium one.

    `goals` (reward specs by name) and `feature_goals` choose the named-goal candidates of an
    exact report besides the reference. Raises InvalidInputError (naming `loc`, or
    `goals.<name>`) when a reward cannot be evaluated there.
    """
    env, job = inputs.environment, inputs.inference
    if isinstance(env, TabularMDP):
        assert not callable(inferred)
        concrete = rewards.concrete(
            session, job.project_id, reference, mdp=env, trajectories=inputs.trajectories, loc=loc
        )
        named = named_goals(session, inputs, goals or {})
        return Exact(
            env,
            inferred,
            concrete,
            reward_parameters(job.reward_model, env),
            goals=named,
            feature_goals=feature_goals,
        )
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


def named_goals(
    session: Session, inputs: JobInputs, goals: Mapping[str, Any]
) -> dict[str, ConcreteReward]:
    """Named goal specs as rewards of the inference's tabular environment."""
    env = inputs.environment
    assert isinstance(env, TabularMDP)
    if len(goals) + 1 > MAX_CANDIDATES:
        raise InvalidInputError.at("goals", f"at most {MAX_CANDIDATES - 1} named goals")
    project_id = inputs.inference.project_id
    named: dict[str, ConcreteReward] = {}
    for name, spec in goals.items():
        loc = f"goals.{name}"
        if not name.strip() or len(name) > 100:
            raise InvalidInputError.at(loc, "a goal's name must have 1 to 100 characters")
        parsed = rewards.parse(spec, loc=loc, mdp=env)
        named[name] = rewards.concrete(
            session, project_id, parsed, mdp=env, trajectories=inputs.trajectories, loc=loc
        )
    return named


def hypotheses(
    session: Session,
    inputs: JobInputs,
    reference: RewardSpec,
    goals: Mapping[str, Any],
    *,
    feature_goals: bool,
    loc: str,
) -> Hypotheses:
    """The named-goal hypotheses of the inference's rollouts (tabular environments only)."""
    env = inputs.environment
    if not isinstance(env, TabularMDP):
        raise InvalidInputError.at(
            "inference", "named goals are tested in tabular environments only"
        )
    compared = subject(
        session,
        inputs,
        inferred_reward(session, inputs),
        reference,
        loc=loc,
        goals=goals,
        feature_goals=feature_goals,
    )
    assert isinstance(compared, Exact) and compared.goals is not None
    support = TransitionSupport.of(env)
    candidates = default_candidates(
        env, compared.reference, compared.goals, features=feature_goals, support=support
    )
    free = sparse_reward(compared.inferred, env, support)
    return fit_hypotheses(
        env,
        inputs.trajectories,
        candidates,
        support=support,
        free_reward=PlanningReward.of_sparse(free, support),
        free_parameters=compared.n_parameters,
        far_epic=DEFAULT_THRESHOLDS.far_epic,
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
    reports), and the report's fields (exact reports carry identifiability over the states the
    agent could reach)."""
    if isinstance(subject, Exact):
        return {"against": reward_to_spec(subject.reference), **report.to_dict()}
    return {"against": reward_to_spec(spec), **report.to_dict()}
