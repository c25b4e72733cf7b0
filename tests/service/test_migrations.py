"""The migrations build exactly the schema the models describe, on both backends."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.core.models import Base


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    """A column, index or constraint added to a model without its migration (or the reverse)
    shows as a difference here."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
