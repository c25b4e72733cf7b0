"""Test-wide set-up: an isolated data directory and single-threaded numerics."""

from __future__ import annotations

import os
import tempfile

# Before any service module reads its settings: keep test data out of ./mesascope-data.
os.environ.setdefault("MESASCOPE_DATA_DIR", tempfile.mkdtemp(prefix="mesascope-test-"))
os.environ.setdefault("MESASCOPE_ENVIRONMENT", "test")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

torch.set_num_threads(1)
