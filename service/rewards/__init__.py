"""Turning reward specs (tabular, linear, environment, observed, inference) into arrays."""
