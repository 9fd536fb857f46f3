"""Each collection's default record API, for the record API registry.

:class:`CollectionApiSource` implements the records layer's ``RecordApiSource`` protocol
(``record_apis() -> Iterable[tuple[RecordApiConfig, sa.Table]]``): one API per collection,
named after it, built from its ``options.access`` (see :mod:`tinybase.collections.access`),
carrying the collection's :class:`~tinybase.collections.validator.CollectionValidator`.
Every other API over a collection's table (admin-defined, configured) gets the same
validator through ``validator_for``.
The registry is told to drop what it cached whenever a collection changes (see
``CollectionCatalog.add_listener``).
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from tinybase.collections.catalog import CollectionCatalog, definition_of
from tinybase.collections.validator import BeforeWrite, CollectionValidator, with_validator
from tinybase.records.config import RecordApiConfig, RecordValidator
from tinybase.records.engine import ExpandLookup
from tinybase.records.registry import RecordApiRegistry

__all__ = ["CollectionApiSource", "serve_collections"]


class CollectionApiSource:
    """The default record APIs of the collections in ``catalog``.

    Args:
        catalog: the collections.
        engines: the engine of the API exposing a table (the registry's own index), for
            the validators' relation checks.
        before: what runs before each write (extensions' before-hooks), if anything.
    """

    def __init__(
        self, catalog: CollectionCatalog, engines: ExpandLookup, before: BeforeWrite | None = None
    ) -> None:
        self.catalog = catalog
        self.engines = engines
        self.before = before

    def record_apis(self) -> Iterator[tuple[RecordApiConfig, sa.Table]]:
        """One ``(config, table)`` per collection, read fresh from ``_collection``."""
        for collection in self.catalog.list():
            definition = definition_of(collection)
            # The schema's validator rides along: the TrailBase family validates like ours.
            yield (
                with_validator(self.catalog, definition, self.engines, self.before),
                (definition.table),
            )

    def validator_for(self, table_name: str) -> RecordValidator | None:
        """The schema's validator when ``table_name`` is a collection's table."""
        definition = self.catalog.definition(table_name)
        if definition is None:
            return None
        return CollectionValidator(self.catalog, definition, self.engines, self.before)


def serve_collections(
    catalog: CollectionCatalog, registry: RecordApiRegistry, *, before: BeforeWrite | None = None
) -> None:
    """Make ``registry`` serve the default APIs of ``catalog``'s collections, reloading
    whenever a collection changes in this process; ``before`` runs before every write."""
    catalog.add_listener(registry.invalidate)
    registry.add_source(CollectionApiSource(catalog, registry.for_table_unlocked, before))
