"""Synchronous comparisons of two reward specs in one environment."""
