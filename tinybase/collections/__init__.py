"""Collections: schemas of typed fields, stored as real tables, with their records.

``tinybase.collections.service.CollectionService`` is the public Python API (seed contract).
"""
