"""Whether a tabular job's report fits in the worker's memory, checked before it is queued."""

from __future__ import annotations

from sqlalchemy.orm import Session

from irl.environments import TabularMDP
from irl.errors import InvalidInputError
from irl.report.sparse import report_memory_bytes
from service.core.models import Environment, RolloutSet
from service.core.settings import Settings
from service.environments import service as environments


def transitions_of(session: Session, row: Environment, settings: Settings) -> int:
    """Stored transitions (nnz) of a tabular environment: from its summary, or counted once
    for environments stored before summaries held it."""
    stored = row.summary.get("n_transitions")
    if isinstance(stored, int):
        return stored
    model = environments.load(
        environments.get_row(session, row.project_id, row.id, with_spec=True), settings
    )
    assert isinstance(model, TabularMDP)
    return int(model.transitions.nnz)


def check_memory(session: Session, env: Environment, ro: RolloutSet, settings: Settings) -> None:
    """Raise InvalidInputError (at `environment`) when the fit, the report and its bootstrap
    would need more than settings.max_job_memory_bytes (irl.report.sparse.report_memory_bytes)."""
    summary = env.summary
    needed = report_memory_bytes(
        n_states=int(summary["n_states"]),
        n_actions=int(summary["n_actions"]),
        nnz=transitions_of(session, env, settings),
        horizon=int(summary["horizon"]),
        n_steps=ro.n_transitions,
        n_features=len(summary.get("feature_names") or ()),
        n_bootstrap=settings.bootstrap_resamples,
    )
    if needed > settings.max_job_memory_bytes:
        raise InvalidInputError.at(
            "environment",
            f"the fit and report of {summary['n_states']} states, horizon {summary['horizon']} "
            f"and {ro.n_transitions} steps would need about {needed / 2**30:.1f} GiB; this "
            f"service allows {settings.max_job_memory_bytes / 2**30:.1f} GiB per job "
            "(MESASCOPE_MAX_JOB_MEMORY_BYTES)",
        )
