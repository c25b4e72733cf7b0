"""Validating, storing and loading environments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.errors import InvalidInputError
from irl.io.environments import parse_environment
from service.core.errors import NotFoundError
from service.core.models import Environment
from service.core.settings import Settings
from service.environments import repository
from service.environments.schemas import EnvironmentPublic

EnvModel = TabularMDP | GymnasiumEnvSpec


def parse(spec: Mapping[str, Any], settings: Settings, *, loc: str = "environment") -> EnvModel:
    """Validate an inline environment spec (422 naming the field on any problem)."""
    if not isinstance(spec, Mapping):
        raise InvalidInputError.at(loc, "expected an object")
    return parse_environment(
        spec, loc=loc, allowed_gym_ids=settings.allowed_gym_ids, max_states=settings.max_states
    )


def summarise(model: EnvModel) -> dict[str, Any]:
    """The list-view summary of an environment."""
    if isinstance(model, TabularMDP):
        return {
            "n_states": model.n_states,
            "n_actions": model.n_actions,
            "horizon": model.horizon,
            "discount": model.discount,
            "n_transitions": int(model.transitions.nnz),
            "feature_names": list(model.feature_names),
            "has_reward": model.reward is not None,
            "has_layout": model.layout is not None,
        }
    return {"gym_id": model.id}


def create(session: Session, project_id: str, model: EnvModel) -> Environment:
    """Store a parsed environment in its canonical form."""
    kind = "tabular" if isinstance(model, TabularMDP) else "gymnasium"
    name = model.name if isinstance(model, TabularMDP) else model.id
    return repository.add(
        session,
        project_id=project_id,
        name=name,
        kind=kind,
        spec=model.to_spec(),
        summary=summarise(model),
    )


def get_row(
    session: Session, project_id: str, env_id: str, *, with_spec: bool = False
) -> Environment:
    """The project's environment, or 404."""
    env = repository.get(session, project_id, env_id, with_spec=with_spec)
    if env is None:
        raise NotFoundError(f"environment {env_id!r} not found")
    return env


def resolve(
    session: Session,
    project_id: str,
    spec: Mapping[str, Any],
    settings: Settings,
    *,
    loc: str = "environment",
) -> tuple[Environment, EnvModel]:
    """An inline spec (stored now) or an `{"id": ...}` reference, as (row, parsed model)."""
    if isinstance(spec, Mapping) and set(spec) == {"id"}:
        env_id = spec["id"]
        if not isinstance(env_id, str):
            raise InvalidInputError.at(f"{loc}.id", "expected a string id")
        row = repository.get(session, project_id, env_id, with_spec=True)
        if row is None:
            raise InvalidInputError.at(f"{loc}.id", f"unknown environment {env_id!r}")
        return row, load(row, settings)
    model = parse(spec, settings, loc=loc)
    return create(session, project_id, model), model


def load(row: Environment, settings: Settings) -> EnvModel:
    """Parse a stored (already validated) environment spec."""
    return parse_environment(
        row.spec, loc="environment", allowed_gym_ids=("*",), max_states=max(settings.max_states, 1)
    )


def to_public(row: Environment, *, include_spec: bool = False) -> EnvironmentPublic:
    """The API view of an environment row."""
    summary = row.summary
    return EnvironmentPublic(
        id=row.id,
        name=row.name,
        kind=row.kind,
        created_at=row.created_at,
        n_states=summary.get("n_states"),
        n_actions=summary.get("n_actions"),
        horizon=summary.get("horizon"),
        discount=summary.get("discount"),
        feature_names=summary.get("feature_names"),
        has_reward=bool(summary.get("has_reward")),
        has_layout=bool(summary.get("has_layout")),
        spec=row.spec if include_spec else None,
    )
