"""Idempotency-Key: a retried write returns the first response instead of storing twice."""
