"""All reward distances of two tabular rewards in one call (what the service reports)."""

import numpy as np

from irl.divergence.dard import check_coverage, dard_distance
from irl.divergence.epic import epic_distance, pearson_distance
from irl.divergence.regret import regret
from irl.divergence.starc import starc_distance
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError

METRICS = ("epic", "dard", "starc", "pearson", "regret")


def tabular_distances(
    mdp: TabularMDP,
    ra: np.ndarray,
    rb: np.ndarray,
    *,
    discount: float,
    coverage: np.ndarray | None,
    visited: np.ndarray | None,
) -> dict[str, float | None]:
    """EPIC, DARD, STARC, Pearson-on-visited and regret of rewards ra, rb, shape (S, A, S).

    coverage: (S, A, S) weights for EPIC, DARD and STARC; None is uniform for EPIC and STARC
    and the feasible transitions for DARD. visited: (S, A, S) visit counts; "pearson" is None
    without them. "regret" is the regret of optimising rb when ra is the true reward (the
    service passes a = training reward, b = inferred reward), None when every policy is
    equally good under ra.
    """
    if coverage is not None:
        check_coverage(coverage, ra.shape)
    if visited is not None and visited.shape != ra.shape:
        raise InvalidInputError.at(
            "visited", f"shape {list(visited.shape)}, expected {list(ra.shape)}"
        )
    return {
        "epic": epic_distance(ra, rb, discount=discount, coverage=coverage),
        "dard": dard_distance(mdp, ra, rb, discount=discount, coverage=coverage),
        "starc": starc_distance(mdp, ra, rb, discount=discount, coverage=coverage),
        "pearson": None if visited is None else pearson_distance(ra, rb, visited),
        "regret": regret(mdp, ra, rb),
    }
