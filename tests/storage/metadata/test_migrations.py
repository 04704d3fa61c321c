"""The schema comes from Alembic migrations, and the tables in models.py describe exactly it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from loopml.errors import SchemaVersionError
from loopml.storage.metadata.sql import SqlMetadataStore
from loopml.storage.metadata.sql.models import METADATA


def _schema_diff(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    engine.dispose()
    return [
        d
        for d in diff
        if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
    ]


def test_migrated_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    SqlMetadataStore(url).close()
    assert _schema_diff(url) == []


@pytest.mark.postgres
def test_migrated_postgres_schema_matches_the_models(fresh_postgres_url: str) -> None:
    SqlMetadataStore(fresh_postgres_url).close()
    assert _schema_diff(fresh_postgres_url) == []


def test_opening_twice_does_not_migrate_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = SqlMetadataStore(url)
    exp = store.create_experiment("kept")
    store.close()
    again = SqlMetadataStore(url)
    assert again.get_experiment(exp).name == "kept"
    again.close()


def test_database_from_a_newer_loopml_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    SqlMetadataStore(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaVersionError, match="upgrade loopml"):
        SqlMetadataStore(f"sqlite:///{db}")


def test_monitors_made_before_0007_read_as_revision_1_by_their_creator(tmp_path: Path) -> None:
    from alembic.command import upgrade
    from alembic.config import Config

    from loopml.storage.metadata.sql.engine import _MIGRATIONS

    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        upgrade(config, "0006")
        conn.execute(
            sa.text(
                "INSERT INTO monitors VALUES ('pricing', 'pricing', 'datasets:/rides/3', 3600,"
                " '{}', 'ana', 1700000000000)"
            )
        )
        conn.commit()
    engine.dispose()
    store = SqlMetadataStore(url)  # upgrades to the head
    monitor = store.get_monitor("pricing")
    assert (monitor.revision, monitor.updated_by, monitor.update_time) == (1, "ana", 1700000000000)
    changed = store.update_monitor("pricing", "datasets:/rides/4", {}, "bo", expected_revision=1)
    assert changed.revision == 2 and changed.created_by == "ana"
    store.close()
