"""Rollout sets: uploaded trajectories of an agent in one environment."""
