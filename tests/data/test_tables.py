"""Tables: canonical Parquet, schema and profile with every version, load, diff, validate,
pinned schemas and lineage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import loopml as lm
from loopml.data.profile import TableProfile, bin_counts, profile_table
from loopml.data.schema import DataSchema, infer_schema
from loopml.entities import DatasetKind
from loopml.errors import DataSchemaError, InvalidInputError, InvalidStateError


def _rides(n: int = 500, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "fare": rng.gamma(2.0, 6.0, n) + 2.5 + shift,
            "distance_km": rng.uniform(0.5, 20, n),
            "city": rng.choice(["paris", "lyon", "lille"], n, p=[0.6, 0.3, 0.1]),
            "passengers": rng.integers(1, 5, n),
        }
    )


def test_log_dataset_stores_parquet_schema_and_profile() -> None:
    df = _rides()
    dv = lm.data.log_dataset("rides", df, description="March")
    assert (dv.version, dv.kind, dv.rows, dv.file_count) == (1, DatasetKind.TABLE, 500, 1)
    profile = TableProfile.from_dict(dict(dv.profile or {}))
    fare = profile.column("fare")
    assert fare.mean == pytest.approx(df["fare"].mean())
    assert fare.quantiles is not None and fare.quantiles[50] == pytest.approx(df["fare"].median())
    assert [v for v, _ in profile.column("city").top or ()] == ["paris", "lyon", "lille"]
    schema = DataSchema.from_dict(dict(dv.schema or {}))
    assert schema.column("city").categories == ("lille", "lyon", "paris")  # type: ignore[union-attr]
    back = lm.data.load("datasets:/rides@latest")
    pd.testing.assert_frame_equal(back, df)
    assert lm.data.load("rides@1", as_="arrow").num_rows == 500
    assert lm.data.log_dataset("rides", df).version == 1  # same data, same version


def test_tables_from_arrow_and_dicts_and_bad_objects() -> None:
    assert lm.data.log_dataset("a", pa.table({"x": [1, 2, 3]})).rows == 3
    assert lm.data.log_dataset("b", {"x": [1.5, 2.5]}).rows == 2
    with pytest.raises(InvalidInputError, match="cannot store a set"):
        lm.data.log_dataset("c", {1, 2})


def test_diff_of_table_versions_shows_schema_rows_and_stats() -> None:
    lm.data.log_dataset("rides", _rides())
    newer = _rides(600, seed=1).drop(columns=["passengers"]).assign(tip=1.0)
    lm.data.log_dataset("rides", newer)
    d = lm.data.diff("rides@1", "rides@2")
    assert d.rows == (500, 600)
    changes = {(c.column, c.change) for c in d.columns}
    assert {("tip", "added"), ("passengers", "removed"), ("fare", "stats")} <= changes
    assert [new.path for _, new in d.files.changed] == ["data.parquet"]
    assert json.loads(json.dumps(d.to_dict()))["rows"] == {"a": 500, "b": 600}


def test_validate_new_data_against_a_version() -> None:
    dv = lm.data.log_dataset("rides", _rides())
    assert lm.data.validate(_rides(seed=3), dv).ok
    bad = _rides(seed=4, shift=30.0)
    bad.loc[:9, "city"] = "marseille"
    bad = bad.drop(columns=["passengers"]).assign(extra=1)
    report = lm.data.validate(bad, "rides@1")
    kinds = {(a.column, a.kind, a.severity) for a in report.anomalies}
    assert ("passengers", "missing_column", "error") in kinds
    assert ("extra", "unexpected_column", "warning") in kinds
    assert ("fare", "out_of_range", "error") in kinds
    assert ("city", "unseen_categories", "error") in kinds
    assert ("fare", "distribution_distance", "warning") in kinds
    unseen = next(a for a in report.anomalies if a.kind == "unseen_categories")
    assert unseen.examples == ("marseille",) and unseen.value == pytest.approx(0.02)
    assert not report.ok and len(report.to_frame()) == len(report.anomalies)


def test_a_pinned_schema_is_what_validation_uses(tmp_path: Path) -> None:
    lm.data.log_dataset("rides", _rides())
    edited = lm.data.get_schema("rides").to_yaml().replace("nullable: false", "nullable: true", 1)
    schema = DataSchema.from_yaml(edited)
    fare = schema.column("fare")
    assert fare is not None
    pinned = DataSchema(
        tuple(
            c if c.name != "fare" else type(c)(**{**c.__dict__, "max": 10.0})
            for c in schema.columns
        )
    )
    lm.data.pin_schema("rides", pinned)
    assert lm.data.get_schema("rides@1").column("fare").max == 10.0  # type: ignore[union-attr]
    report = lm.data.validate(_rides(seed=5), "rides")
    assert any(a.kind == "out_of_range" and a.column == "fare" for a in report.errors)
    lm.data.pin_schema("rides", None)
    assert lm.data.validate(_rides(seed=5), "rides").ok  # the inferred schema again
    assert lm.data.get_schema("rides").column("fare").max != 10.0  # type: ignore[union-attr]


def test_adding_a_csv_file_versions_it_as_a_table() -> None:
    Path(".git").mkdir()
    _rides(50).to_csv("rides.csv", index=False)
    result = lm.data.add("rides.csv")
    assert result.version.kind == DatasetKind.TABLE and result.version.rows == 50
    assert list(lm.data.load("rides.csv@1").columns) == [
        "fare",
        "distance_km",
        "city",
        "passengers",
    ]
    Path("notes.txt").write_text("just text")
    with pytest.raises(InvalidInputError, match="not a table"):
        lm.data.load(lm.data.add("notes.txt").version)


def test_lineage_runs_that_read_and_made_a_version() -> None:
    with lm.start_run() as maker:
        dv = lm.data.log_dataset("features", _rides())
    with lm.start_run() as trainer:
        lm.log_input(dv, context="training")
    edges = lm.data.lineage("features@1")
    assert [(e.run_id, e.direction.value, e.role) for e in edges] == [
        (maker.info.run_id, "output", "output"),
        (trainer.info.run_id, "input", "training"),
    ]
    assert dv.run_id == maker.info.run_id
    with pytest.raises(InvalidStateError, match="no active run"):
        lm.log_input(dv)


def test_profile_matches_numpy_and_bins_later_data_in_the_reference_bins() -> None:
    values = np.random.default_rng(0).normal(10, 2, 1000)
    table = pa.table({"x": pa.array(np.append(values, np.nan)), "s": ["a"] * 1001})
    profile = profile_table(table)
    x = profile.column("x")
    assert (x.count, x.nulls, x.nan) == (1001, 0, 1)
    assert x.std == pytest.approx(values.std()) and x.min == pytest.approx(values.min())
    assert x.quantiles is not None
    np.testing.assert_allclose(x.quantiles, np.percentile(values, range(101)))
    assert x.histogram is not None and sum(x.histogram["counts"]) == 1000
    counts, below, above = bin_counts(np.array([values.min() - 1, 10.0, 1e9]), x.histogram["edges"])
    assert (int(counts.sum()), below, above) == (1, 1, 1)
    assert TableProfile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile
    empty = profile_table(pa.table({"x": pa.array([None, None], pa.float64())}))
    assert empty.column("x").nulls == 2 and empty.column("x").mean is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: [{name: a, kind: spaceship}]", "kind 'spaceship'"),
        ("columns: [{name: a, kind: float, min: 5, max: 1}]", "min 5.0 is above max 1.0"),
        ("columns: [{name: a, kind: float, colour: red}]", "unknown key"),
        ("columns: [{name: a, kind: float}, {name: a, kind: float}]", "listed twice"),
        ("columns: [{name: a, kind: string, max_unseen_share: 2}]", "from 0 to 1"),
        ("columns: [{kind: float}]", "needs a 'name'"),
        ("columns: [a, b", "not valid YAML"),
    ],
)
def test_malformed_schemas_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DataSchemaError, match=message):
        DataSchema.from_yaml(text)


def test_inferred_schema_round_trips_through_yaml() -> None:
    schema = infer_schema(pa.Table.from_pandas(_rides(), preserve_index=False))
    assert DataSchema.from_yaml(schema.to_yaml()) == schema


def test_the_html_report_escapes_values(tmp_path: Path) -> None:
    dv = lm.data.log_dataset("rides", _rides())
    bad = _rides(seed=2)
    bad.loc[:50, "city"] = "<script>alert(1)</script>"
    report = lm.data.validate(bad, dv)
    report.save_html(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "&lt;script&gt;" in page and "<script>" not in page and "FAILED" in page
    assert json.loads(report.to_json())["errors"] == len(report.errors)


def test_cli_validate_exit_codes_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from loopml.cli.main import main

    lm.data.log_dataset("rides", _rides())
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    _rides(seed=7).to_parquet(good)
    _rides(seed=8).drop(columns=["city"]).to_parquet(bad)
    assert main(["data", "validate", str(good), "--against", "rides@1"]) == 0
    capsys.readouterr()
    html = tmp_path / "report.html"
    assert (
        main(["data", "validate", str(bad), "--against", "rides", "--html", str(html), "--json"])
        == 1
    )
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert ("city", "missing_column") in {(a["column"], a["kind"]) for a in report["anomalies"]}
    assert "missing_column" in html.read_text()
    schema_file = tmp_path / "schema.yaml"
    assert main(["data", "schema", "show", "rides@1"]) == 0
    schema_file.write_text(
        capsys.readouterr().out.replace("allow_extra_columns: false", "allow_extra_columns: true")
    )
    assert main(["data", "validate", str(good), "--schema", str(schema_file)]) == 0
    assert main(["data", "validate", str(good)]) == 2  # neither --against nor --schema
