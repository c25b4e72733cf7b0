"""Resolve any reward spec to a concrete tabular or linear reward for one environment."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from irl.divergence.sampled import RewardFn
from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.environments.gym_rewards import environment_reward
from irl.errors import InvalidInputError, Problem
from irl.io.rewards import parse_reward_spec
from irl.rewards import (
    EnvironmentReward,
    InferenceReward,
    LinearReward,
    ObservedReward,
    RewardSpec,
    TabularReward,
    observed_reward,
)
from irl.trajectories import TrajectorySet
from service.core import artifacts
from service.core.errors import invalid_input
from service.rewards import repository

ConcreteReward = TabularReward | LinearReward


def parse(spec: Any, *, loc: str, mdp: TabularMDP | None) -> RewardSpec:
    """Validate a reward spec against the environment (422 naming the field).

    Raised as UnprocessableError, a DomainError, because the dashboard's comparisons catch those.
    """
    if not isinstance(spec, Mapping):
        raise invalid_input(InvalidInputError([Problem(loc, "expected a reward spec object")]))
    try:
        return parse_reward_spec(spec, loc=loc, mdp=mdp)
    except InvalidInputError as exc:
        raise invalid_input(exc) from exc


def _fail(loc: str, msg: str) -> Exception:
    return invalid_input(InvalidInputError([Problem(loc, msg)]))


def inferred_reward_spec(
    session: Session, project_id: str, inference_id: str, *, loc: str
) -> dict[str, Any]:
    """The stored reward spec of the project's succeeded inference."""
    found = repository.status_and_reward_spec(session, project_id, inference_id)
    if found is None:
        raise _fail(f"{loc}.id", f"unknown inference {inference_id!r}")
    status, spec = found
    if status != "succeeded" or spec is None:
        raise _fail(f"{loc}.id", f"inference {inference_id!r} has status {status!r}, not succeeded")
    return dict(spec)


def concrete(
    session: Session,
    project_id: str,
    spec: RewardSpec,
    *,
    mdp: TabularMDP,
    trajectories: TrajectorySet | None,
    loc: str,
) -> ConcreteReward:
    """A tabular or linear reward for `mdp`, whatever kind of spec was given."""
    if isinstance(spec, TabularReward | LinearReward):
        return spec
    if isinstance(spec, EnvironmentReward):
        if mdp.reward is None:
            raise _fail(loc, "the environment has no reward of its own")
        return concrete(session, project_id, mdp.reward, mdp=mdp, trajectories=None, loc=loc)
    if isinstance(spec, ObservedReward):
        if trajectories is None:
            raise _fail(loc, "`observed` needs a rollout set in scope")
        if trajectories.rews is None:
            raise _fail(loc, "`observed` needs rollouts that recorded `rews`")
        return observed_reward(mdp, trajectories)
    if isinstance(spec, InferenceReward):
        stored = inferred_reward_spec(session, project_id, spec.id, loc=loc)
        parsed = parse(stored, loc=loc, mdp=mdp)
        if not isinstance(parsed, TabularReward | LinearReward):
            raise _fail(loc, "the inference's reward cannot be evaluated in this environment")
        return parsed
    raise _fail(loc, f"unsupported reward kind {type(spec).__name__}")


def reward_function(
    session: Session,
    project_id: str,
    spec: RewardSpec,
    *,
    env: GymnasiumEnvSpec,
    observation_size: int,
    loc: str,
) -> RewardFn:
    """A batched reward function in a gymnasium environment: its known reward, or a network
    reward of observations of `observation_size` numbers (linear, tabular and observed rewards
    have no meaning off a tabular environment)."""
    if isinstance(spec, EnvironmentReward):
        known = environment_reward(env.id)
        if known is None:
            raise _fail(loc, f"the reward function of {env.id} is not known")
        return lambda obs, acts, next_obs: known(obs, acts, next_obs, None)
    if isinstance(spec, InferenceReward):
        stored = inferred_reward_spec(session, project_id, spec.id, loc=loc)
        artifact_id = repository.reward_artifact(session, spec.id)
        if stored.get("kind") == "network" and artifact_id is not None:
            expected = math.prod(stored["config"]["observation"]["shape"])
            if expected != observation_size:
                raise _fail(
                    f"{loc}.id",
                    f"the network takes observations of {expected} numbers; the coverage "
                    f"rollouts have {observation_size}",
                )
            from irl.rewards_net import NetworkReward  # torch, only where a network is used

            network = NetworkReward.from_safetensors(
                artifacts.get_bytes(session, artifact_id), stored["config"]
            )
            return lambda obs, acts, next_obs: network(obs, acts, next_obs)
    raise _fail(
        loc,
        "in a gymnasium environment a reward must be `environment` (where its reward function "
        "is known) or a network `inference`",
    )
