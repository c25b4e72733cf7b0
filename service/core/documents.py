"""JSON Schemas of the documents `irl.io` validates (environments, reward specs, trajectories).

Requests carry these documents as JSON objects; `irl.io` parses them with located errors
(`trajectories[3].acts`) that a schema validator cannot give. The schemas below describe the
same documents in the OpenAPI description, so clients and generators see their real shape.
They are never stricter than `irl.io` (everything they refuse, the server refuses too: the
conformance tests check that); what no schema can say (probabilities summing to 1, lengths that
agree, ids that exist, limits an operator configures) is left to `irl.io`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WithJsonSchema

from irl.io.environments import MAX_HORIZON
from irl.io.rewards import MAX_LINEAR_WEIGHTS


def _ref(name: str) -> dict[str, str]:
    """A reference to one of DOCUMENT_SCHEMAS in the OpenAPI components."""
    return {"$ref": f"#/components/schemas/{name}"}


_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200}
_NUMBER_ARRAY: dict[str, Any] = {"type": "array", "items": {"type": "number"}}
_FLAGS: dict[str, Any] = {"type": ["boolean", "array"]}
_NESTED_NUMBERS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "description": "Values of shape (S,), (S, A) or (S, A, S).",
}

TABULAR_REWARD: dict[str, Any] = {
    "type": "object",
    "title": "TabularRewardSpec",
    "required": ["kind", "values"],
    "additionalProperties": False,
    "properties": {"kind": {"const": "tabular"}, "values": _NESTED_NUMBERS},
}
LINEAR_REWARD: dict[str, Any] = {
    "type": "object",
    "title": "LinearRewardSpec",
    "required": ["kind", "weights"],
    "additionalProperties": False,
    "properties": {
        "kind": {"const": "linear"},
        "weights": {
            "type": "object",
            "maxProperties": MAX_LINEAR_WEIGHTS,
            "additionalProperties": {"type": "number"},
            "description": "One weight per feature name.",
        },
        "bias": {"type": "number"},
    },
}
REWARD_SPEC: dict[str, Any] = {
    "title": "RewardSpec",
    "description": "A reward: `tabular` values, `linear` feature weights, the `observed` "
    "rewards of the rollouts, the `environment`'s own reward, or an `inference`'s reward.",
    "oneOf": [
        _ref("TabularRewardSpec"),
        _ref("LinearRewardSpec"),
        {
            "type": "object",
            "title": "NamedRewardSpec",
            "required": ["kind"],
            "additionalProperties": False,
            "properties": {"kind": {"enum": ["observed", "environment"]}},
        },
        {
            "type": "object",
            "title": "InferenceRewardSpec",
            "required": ["kind", "id"],
            "additionalProperties": False,
            "properties": {"kind": {"const": "inference"}, "id": _TEXT},
        },
    ],
}

TABULAR_ENVIRONMENT: dict[str, Any] = {
    "type": "object",
    "title": "TabularEnvironmentSpec",
    "required": [
        "kind",
        "n_states",
        "n_actions",
        "transitions",
        "initial_state_dist",
        "horizon",
        "discount",
    ],
    "additionalProperties": False,
    "properties": {
        "kind": {"const": "tabular"},
        "name": _TEXT,
        "n_states": {"type": "integer", "minimum": 1},
        "n_actions": {"type": "integer", "minimum": 1},
        "transitions": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
            "description": "Rows `[s, a, s_next, p]`; each (s, a) sums to 1.",
        },
        "initial_state_dist": {**_NUMBER_ARRAY, "minItems": 1},
        "horizon": {"type": "integer", "minimum": 1, "maximum": MAX_HORIZON},
        "discount": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "features": {
            "type": ["object", "null"],
            "required": ["names", "values"],
            "additionalProperties": False,
            "properties": {
                "names": {"type": "array", "minItems": 1, "items": _TEXT},
                "values": {"type": "array", "items": _NUMBER_ARRAY},
            },
        },
        "reward": {
            "oneOf": [{"type": "null"}, _ref("TabularRewardSpec"), _ref("LinearRewardSpec")]
        },
        "layout": {
            "type": ["object", "null"],
            "required": ["rows", "cols", "cells"],
            "additionalProperties": False,
            "properties": {
                "rows": {"type": "integer", "minimum": 1},
                "cols": {"type": "integer", "minimum": 1},
                "cells": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"type": "integer"},
                    },
                },
            },
        },
    },
}
GYMNASIUM_ENVIRONMENT: dict[str, Any] = {
    "type": "object",
    "title": "GymnasiumEnvironmentSpec",
    "required": ["kind", "id"],
    "additionalProperties": False,
    "properties": {
        "kind": {"const": "gymnasium"},
        "id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,199}$"},
        "kwargs": {"type": "object"},
    },
}
ENVIRONMENT_SPEC: dict[str, Any] = {
    "title": "EnvironmentSpec",
    "oneOf": [_ref("TabularEnvironmentSpec"), _ref("GymnasiumEnvironmentSpec")],
}
ENVIRONMENT_OR_REFERENCE: dict[str, Any] = {
    "title": "EnvironmentSpecOrReference",
    "oneOf": [
        _ref("TabularEnvironmentSpec"),
        _ref("GymnasiumEnvironmentSpec"),
        {
            "type": "object",
            "title": "EnvironmentReference",
            "required": ["id"],
            "additionalProperties": False,
            "properties": {"id": _TEXT},
        },
    ],
}

_OBSERVATIONS: dict[str, Any] = {
    "type": "array",
    "minItems": 2,
    "description": "len(acts)+1 state indices, or observation vectors.",
}
_ACTIONS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "description": "Action indices (tabular), or action vectors.",
}
_REWARDS: dict[str, Any] = {"type": ["array", "null"], "items": {"type": "number"}}
_TERMINAL: dict[str, Any] = {
    "type": ["boolean", "array", "null"],
    "description": "Whether the episode ended in a terminal state, or a flag per step.",
}
TRAJECTORY: dict[str, Any] = {
    "type": "object",
    "title": "Trajectory",
    "description": "One episode. Minari names are accepted for each field (`observations`, "
    "`actions`, `rewards`, `terminations`, `truncations`, `infos`), one name per field.",
    "additionalProperties": False,
    "properties": {
        "obs": _OBSERVATIONS,
        "observations": _OBSERVATIONS,
        "acts": _ACTIONS,
        "actions": _ACTIONS,
        "rews": _REWARDS,
        "rewards": _REWARDS,
        "terminal": _TERMINAL,
        "terminations": _TERMINAL,
        "truncations": _FLAGS,
        "infos": {},
        "environment": {
            "type": "integer",
            "minimum": 0,
            "description": "In a pooled rollout set (one with `environments`): the index of "
            "this trajectory's environment; its `obs` are that environment's state indices.",
        },
    },
    "allOf": [
        {"anyOf": [{"required": ["obs"]}, {"required": ["observations"]}]},
        {"anyOf": [{"required": ["acts"]}, {"required": ["actions"]}]},
    ],
}

DOCUMENT_SCHEMAS: dict[str, dict[str, Any]] = {
    schema["title"]: schema
    for schema in (
        TABULAR_REWARD,
        LINEAR_REWARD,
        REWARD_SPEC,
        TABULAR_ENVIRONMENT,
        GYMNASIUM_ENVIRONMENT,
        ENVIRONMENT_SPEC,
        ENVIRONMENT_OR_REFERENCE,
        TRAJECTORY,
    )
}
"""The schemas above by name, added to the OpenAPI components by `add_document_schemas`."""


def add_document_schemas(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with DOCUMENT_SCHEMAS among its component schemas."""
    openapi.setdefault("components", {}).setdefault("schemas", {}).update(DOCUMENT_SCHEMAS)
    return openapi


def _document(name: str) -> WithJsonSchema:
    """A field's schema: the named document (wrapped, so fields may add a description)."""
    return WithJsonSchema({"allOf": [_ref(name)]})


EnvironmentDocument = Annotated[dict[str, Any], _document("EnvironmentSpec")]
"""A new environment: tabular or gymnasium."""
EnvironmentField = Annotated[dict[str, Any], _document("EnvironmentSpecOrReference")]
"""An environment inline, or a reference to a stored one."""
RewardDocument = Annotated[dict[str, Any], _document("RewardSpec")]
"""A reward spec."""
TrajectoryDocument = Annotated[dict[str, Any], _document("Trajectory")]
"""One trajectory."""
