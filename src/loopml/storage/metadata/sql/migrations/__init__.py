"""Alembic migrations of the SQL metadata store. The only way the schema is made or changed.

``HEAD`` must name the newest revision in ``versions/`` (a test checks it): the store compares
it with the database's ``alembic_version`` row and imports Alembic only when they differ.
"""

HEAD = "0007"
