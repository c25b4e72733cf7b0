"""mesascope's science library: tabular MDPs, trajectories, inverse RL and reward comparison.

Framework-free (numpy, scipy, torch, imitation, seals, gymnasium); the service wraps it.
"""
