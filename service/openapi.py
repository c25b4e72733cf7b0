"""Print the app's OpenAPI document as YAML (`make openapi` writes openapi.yaml)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from service.app import create_app
from service.core.settings import Settings


def openapi_yaml() -> str:
    """The OpenAPI document, independent of local settings."""
    spec = create_app(Settings(data_dir=Path("/nonexistent")), enqueue=lambda _: None).openapi()
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


if __name__ == "__main__":
    sys.stdout.write(openapi_yaml())
