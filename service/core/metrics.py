"""Prometheus metrics for the API and workers."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("mesascope_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("mesascope_http_request_seconds", "HTTP request latency", ["method", "route"])
JOBS_SUBMITTED = Counter(
    "mesascope_jobs_submitted_total", "Inference jobs submitted", ["algorithm"]
)
JOBS_FINISHED = Counter("mesascope_jobs_finished_total", "Inference jobs finished", ["status"])
JOBS_REAPED = Counter("mesascope_jobs_reaped_total", "Jobs taken off lapsed leases", ["outcome"])
