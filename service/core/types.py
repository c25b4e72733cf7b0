"""Field types shared by the API models: text every database can store, ids, and distances."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, Field

from irl.divergence import DISTANCES

ID_PATTERN = r"^[a-z]{2,4}_[0-9a-f]{1,36}$"


def no_nul(value: str) -> str:
    """Refuse NUL characters and lone UTF-16 surrogates, which no database can store as text."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not value.isascii() and any("\ud800" <= c <= "\udfff" for c in value):
        raise ValueError("must be valid Unicode (contains a lone surrogate)")
    return value


Text = Annotated[str, AfterValidator(no_nul)]
"""A string without NUL characters or lone surrogates."""

Name = Annotated[Text, Field(min_length=1, max_length=200)]
"""A display name."""


def valid_id(value: str) -> str:
    """Refuse text that is not an id as this API issues them, saying what one looks like."""
    if not re.fullmatch(ID_PATTERN, value):
        raise ValueError("not a valid id: ids look like `ro_9b85a81dc1b307cb57bae9fa`")
    return value


ResourceId = Annotated[
    str, Field(max_length=40, json_schema_extra={"pattern": ID_PATTERN}), AfterValidator(valid_id)
]
"""An id as this API issues them (`ro_...`, `inf_...`)."""

IdPath = Annotated[str, Path(max_length=200), AfterValidator(no_nul)]
"""A resource id in a path: anything that is not one of the project's ids is a 404 (not found
or not a valid id), not a pattern error."""

IdQuery = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=40)]
"""An optional resource id filter."""


def distance_fields(*, required: bool) -> dict[str, Any]:
    """One float-or-null field per registered distance (irl.divergence.DISTANCES), for
    pydantic's create_model; not `required` ones default to null (stored reports made before a
    distance was registered lack it)."""
    default = ... if required else None
    return {
        d.name: (float | None, Field(default=default, description=d.description)) for d in DISTANCES
    }
