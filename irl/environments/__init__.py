"""Environments: tabular MDPs with known dynamics and gymnasium references."""

from irl.environments.tabular import (
    GymnasiumEnvSpec,
    Layout,
    TabularMDP,
    parse_environment,
    parse_tabular_mdp,
)

__all__ = ["GymnasiumEnvSpec", "Layout", "TabularMDP", "parse_environment", "parse_tabular_mdp"]
