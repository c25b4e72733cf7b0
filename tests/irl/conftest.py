"""Shared fixtures for irl tests: a tiny two-state MDP and small gridworlds."""

import pytest

from irl.environments import TabularMDP
from irl.io.environments import parse_tabular_mdp
from tests.irl.gridworld import gridworld_spec, two_state_spec


@pytest.fixture
def two_state() -> TabularMDP:
    """The two-state MDP of two_state_spec()."""
    return parse_tabular_mdp(two_state_spec())


@pytest.fixture(scope="session")
def grid5() -> TabularMDP:
    """A deterministic 5x5 gridworld (door bottom-right, horizon 10)."""
    return parse_tabular_mdp(gridworld_spec(rows=5, cols=5))
