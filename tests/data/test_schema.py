"""Schemas: inferred from a profile, written as YAML a person edits, checked when read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import yaml

from loopml.data.profile import profile_table
from loopml.data.schema import ColumnSchema, DataSchema, infer_schema, load_schema, save_schema
from loopml.errors import DataSchemaError, InvalidInputError


@pytest.fixture
def table() -> pa.Table:
    return pa.table(
        {
            "fare": pa.array([2.5, 14.0, None, 80.0]),
            "passengers": pa.array([1, 2, 4, 3], pa.int8()),
            "city": ["paris", "lyon", "paris", "lille"],
            "paid": [True, False, True, True],
            "note": [f"free text {i}" for i in range(4)],
        }
    )


def test_inferred_schema_describes_the_columns(table: pa.Table) -> None:
    schema = infer_schema(profile_table(table))
    fare, passengers, city = (schema.column(n) for n in ("fare", "passengers", "city"))
    assert fare == ColumnSchema(
        name="fare",
        kind="float",
        type="double",
        nullable=True,
        min=2.5,
        max=80.0,
        max_out_of_range_share=0.01,
        max_distance=0.2,
    )
    assert passengers is not None and (passengers.kind, passengers.type) == ("integer", "int8")
    assert passengers.nullable is False and (passengers.min, passengers.max) == (1.0, 4.0)
    assert city is not None and city.categories == ("lille", "lyon", "paris")
    assert city.max_unseen_share == 0.01 and city.max_null_fraction is None
    assert schema.column("paid").categories == ("false", "true")  # type: ignore[union-attr]
    assert schema.column("nope") is None and schema.allow_extra_columns is False


def test_a_table_or_a_dataframe_is_profiled_first(table: pa.Table) -> None:
    assert infer_schema(table) == infer_schema(profile_table(table))
    assert infer_schema(table.to_pandas()).names == table.column_names


def test_no_categories_for_text_with_too_many_values() -> None:
    ids = pa.table({"id": [f"user-{i}" for i in range(51)]})
    column = infer_schema(ids).column("id")
    assert column is not None and column.categories is None and column.max_distance is None


def test_schema_round_trips_through_readable_yaml(table: pa.Table, tmp_path: Path) -> None:
    schema = infer_schema(table)
    text = schema.to_yaml()
    assert DataSchema.from_yaml(text) == schema
    first = yaml.safe_load(text)["columns"][0]
    assert first["name"] == "fare" and "categories" not in first  # None fields left out
    save_schema(schema, tmp_path / "rides.schema.yaml")
    assert load_schema(tmp_path / "rides.schema.yaml") == schema
    assert DataSchema.from_dict(schema.to_dict()) == schema


def test_an_edited_yaml_file_is_what_loads(table: pa.Table, tmp_path: Path) -> None:
    path = tmp_path / "rides.schema.yaml"
    save_schema(infer_schema(table), path)
    text = path.read_text()
    assert "  max: 80.0\n" in text and "  - lille\n" in text
    edited = (
        text.replace("  max: 80.0\n", "  max: 200  # fares up to 200 are fine\n")
        .replace("  - lille\n", "")
        .replace("allow_extra_columns: false", "allow_extra_columns: true")
    )
    path.write_text(edited)
    schema = load_schema(path)
    assert schema.column("fare").max == 200.0  # type: ignore[union-attr]
    assert schema.column("city").categories == ("lyon", "paris")  # type: ignore[union-attr]
    assert schema.allow_extra_columns is True


def test_hand_written_booleans_mean_the_same_as_profiled_ones() -> None:
    schema = DataSchema.from_yaml("columns: [{name: paid, kind: boolean, categories: [true]}]")
    assert schema.column("paid").categories == ("true",)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: [{name: a, kind: float, colour: red}]", r"'a': unknown key\(s\) \['colour'\]"),
        ("kolumns: []", r"unknown schema key\(s\) \['kolumns'\]; use 'columns'"),
        ("columns: [{name: a, kind: spaceship}]", "column 'a': kind 'spaceship' is not one of"),
        ("columns: [{name: a}]", "column 'a' needs a 'kind'"),
        ("columns: [{kind: float}]", "column #1 needs a 'name'"),
        ("columns: [{name: a, kind: float, min: 5, max: 1}]", "min 5.0 is above max 1.0; swap"),
        ("columns: [{name: a, kind: float, max: lots}]", "max must be a number, got 'lots'"),
        ("columns: [{name: a, kind: float, min: .nan}]", "min must be a number"),
        ("columns: [{name: a, kind: float, max_distance: 1.5}]", "max_distance must be a"),
        ("columns: [{name: a, kind: float, max_null_fraction: -0.1}]", "from 0 to 1"),
        ("columns: [{name: a, kind: string, max_unseen_share: 2}]", "max_unseen_share"),
        ("columns: [{name: a, kind: float, nullable: maybe}]", "nullable must be true or false"),
        ("columns: [{name: a, kind: string, categories: paris}]", "categories must be a list"),
        ("columns: [{name: a, kind: string, categories: [x, null]}]", "plain values, got None"),
        ("columns: [{name: a, kind: float}, {name: a, kind: float}]", "'a' is listed twice"),
        ("columns: {a: float}", "'columns' must be a list"),
        ("allow_extra_columns: 1\ncolumns: []", "'allow_extra_columns' must be true or false"),
        ("- just a list", "a schema is a mapping"),
        ("columns: [a, b", "not valid YAML"),
    ],
)
def test_malformed_schemas_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DataSchemaError, match=message):
        DataSchema.from_yaml(text)


def test_a_missing_schema_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read the schema file"):
        load_schema(tmp_path / "nope.yaml")


def test_a_schema_is_inferred_from_pandas_nullable_integers() -> None:
    frame = pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64")})
    column = infer_schema(frame).column("n")
    assert column is not None and (column.kind, column.nullable) == ("integer", True)
