"""Inference jobs: IRL runs on a rollout set, their results and divergence reports."""
