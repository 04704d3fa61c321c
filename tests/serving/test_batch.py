"""Batch scoring as a user runs it: real files in, a real predictions file out, real errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import loopml as lm
from loopml.cli.main import main
from loopml.errors import InvalidInputError, ScoringError, SignatureError
from loopml.serving import predict_file
from loopml.serving.batch import METADATA_KEY
from loopml.storage.artifacts import hash_file

FEATURES = ["a", "b", "c", "d"]


def _frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=FEATURES)
    frame.insert(0, "ride_id", np.arange(1000, 1000 + rows))
    frame["city"] = rng.choice(["paris", "lyon"], size=rows)
    return frame


@pytest.fixture
def classifier(tmp_path: Path) -> tuple[Path, LogisticRegression]:
    train = _frame(400, seed=1)
    model = LogisticRegression().fit(train[FEATURES], (train.a + train.b > 0).astype(int))
    folder = tmp_path / "clf"
    lm.models.save_model(model, folder, input_example=train[FEATURES].head(5))
    return folder, model


@pytest.fixture
def regressor(tmp_path: Path) -> Path:
    train = _frame(200, seed=2)
    model = LinearRegression().fit(train[FEATURES], train.a * 2 - train.c)
    folder = tmp_path / "reg"
    lm.models.save_model(model, folder, input_example=train[FEATURES].head(5))
    return folder


def _written(folder: Path) -> list[str]:
    """Files in the folder other than the model and the input (outputs, temporary files)."""
    inputs = {"clf", "reg", "m", "day.parquet", "work"}
    return sorted(p.name for p in folder.iterdir() if p.name not in inputs)


class Explodes(lm.models.PythonModel):
    """Raises on a row whose feature `a` is exactly 99 (a bug the model has)."""

    def predict(self, context: lm.models.PythonModelContext, inputs: pd.DataFrame) -> np.ndarray:
        if (inputs["a"] == 99).any():
            raise ValueError("cannot score a == 99")
        return inputs["a"].to_numpy() * 2


def test_scores_parquet_in_chunks_keeping_ids_and_order(tmp_path: Path, classifier) -> None:  # type: ignore[no-untyped-def]
    folder, model = classifier
    data = _frame(2_345)
    source = tmp_path / "day.parquet"
    data.to_parquet(source, row_group_size=700)  # row groups that do not line up with chunks
    seen: list[tuple[int, int | None]] = []

    result = predict_file(
        folder,
        source,
        tmp_path / "preds.parquet",
        chunk_size=500,
        id_columns=["ride_id"],
        columns=["city"],
        proba=True,
        progress=lambda done, total: seen.append((done, total)),
    )

    out = pd.read_parquet(tmp_path / "preds.parquet")
    assert list(out.columns) == ["ride_id", "city", "prediction", "proba_0", "proba_1"]
    assert out["ride_id"].tolist() == data["ride_id"].tolist()
    assert out["city"].tolist() == data["city"].tolist()
    assert out["prediction"].tolist() == model.predict(data[FEATURES]).tolist()
    np.testing.assert_allclose(out["proba_1"], model.predict_proba(data[FEATURES])[:, 1])
    assert (result.rows, result.chunks) == (2_345, 5)
    assert seen[-1] == (2_345, 2_345) and len(seen) == 5
    assert pq.ParquetFile(tmp_path / "preds.parquet").metadata.num_row_groups == 5
    meta = json.loads(pq.read_schema(tmp_path / "preds.parquet").metadata[METADATA_KEY])
    assert meta["input"] == str(source) and meta["id_columns"] == ["ride_id"]
    assert result.run_id is None  # a plain file: no run unless asked for
    assert _written(tmp_path) == ["preds.parquet"]


def test_csv_in_and_out_with_whole_numbers_before_fractions(tmp_path: Path, regressor) -> None:  # type: ignore[no-untyped-def]
    data = _frame(60_000)
    data.loc[:40_000, "b"] = 1.0  # the first blocks of column b look like integers
    source = tmp_path / "day.csv"
    data.to_csv(source, index=False)

    result = predict_file(regressor, source, tmp_path / "preds.csv", id_columns="ride_id")

    out = pd.read_csv(tmp_path / "preds.csv")
    expected = lm.models.load(regressor).predict(data[FEATURES])
    assert out["ride_id"].tolist() == data["ride_id"].tolist()
    np.testing.assert_allclose(out["prediction"], expected, rtol=1e-9)
    assert result.rows == 60_000 and result.columns == ["ride_id", "prediction"]


def test_a_folder_of_parquet_files_is_read_in_name_order(tmp_path: Path, classifier) -> None:  # type: ignore[no-untyped-def]
    folder, model = classifier
    parts = tmp_path / "days"
    parts.mkdir()
    data = _frame(900)
    for n, start in enumerate(range(0, 900, 300)):
        data.iloc[start : start + 300].to_parquet(parts / f"part-{n:03d}.parquet")
    (parts / "_SUCCESS").write_text("")  # a marker other writers leave: skipped

    predict_file(folder, parts, tmp_path / "preds.parquet", id_columns=["ride_id"], chunk_size=250)

    out = pd.read_parquet(tmp_path / "preds.parquet")
    assert out["ride_id"].tolist() == data["ride_id"].tolist()
    assert out["prediction"].tolist() == model.predict(data[FEATURES]).tolist()

    data.iloc[:10].drop(columns=["d"]).to_parquet(parts / "part-999.parquet")
    with pytest.raises(InvalidInputError, match=r"part-999\.parquet lacks column\(s\) 'd'"):
        predict_file(folder, parts, tmp_path / "again.parquet")
    assert not (tmp_path / "again.parquet").exists()


def test_a_dataset_version_is_scored_as_a_run_with_lineage(tmp_path: Path) -> None:
    train = _frame(300, seed=3)
    model = LogisticRegression().fit(train[FEATURES], (train.b > 0).astype(int))
    with lm.start_run():
        info = lm.models.log_model(model, "model", input_example=train[FEATURES].head(5))
    version = lm.registry.register(info.uri, "rides-clf")
    lm.registry.set_alias("rides-clf", "challenger", version.version)
    day = lm.data.log_dataset("day", _frame(1_200, seed=4))

    result = predict_file(
        "models:/rides-clf@challenger", "day@1", tmp_path / "preds.parquet", id_columns="ride_id"
    )

    assert (result.model_name, result.model_version, result.input) == (
        "rides-clf",
        1,
        "datasets:/day/1",
    )
    run = lm.get_run(result.run_id)
    assert run.info.status.value == "FINISHED"
    assert run.data.metrics["rows"] == 1_200
    written = hash_file(tmp_path / "preds.parquet").digest
    assert run.data.tags["loopml.predict.output_digest"] == written
    edges = {(e.uri, e.role) for e in lm.data.lineage(day)}
    assert (day.uri, "scoring") in edges
    store = lm.TrackingClient().stores.metadata
    by_run = {(e.uri, e.role) for e in store.list_lineage(run_id=result.run_id)}
    assert by_run == {("datasets:/day/1", "scoring"), ("models:/rides-clf/1", "model")}
    meta = json.loads(pq.read_schema(tmp_path / "preds.parquet").metadata[METADATA_KEY])
    assert meta["run_id"] == result.run_id and meta["model_version"] == 1


def test_a_missing_signature_column_is_named_before_any_work(tmp_path: Path, classifier) -> None:  # type: ignore[no-untyped-def]
    folder, _ = classifier
    _frame(50).drop(columns=["c"]).to_parquet(tmp_path / "day.parquet")
    with pytest.raises(SignatureError, match=r"lacks column\(s\) 'c' that the model takes"):
        predict_file(folder, tmp_path / "day.parquet", tmp_path / "preds.parquet")
    assert list(tmp_path.glob("*preds*")) == []


def test_a_bad_chunk_names_its_rows_and_leaves_no_output(tmp_path: Path, classifier) -> None:  # type: ignore[no-untyped-def]
    folder, _ = classifier
    data = _frame(1_000)
    data.loc[730, "b"] = None  # a null in the fourth chunk of 200 rows
    data.to_parquet(tmp_path / "day.parquet")
    with pytest.raises(SignatureError, match=r"chunk 4 \(rows 601–800\): column 'b' has 1 null"):
        predict_file(folder, tmp_path / "day.parquet", tmp_path / "preds.parquet", chunk_size=200)
    assert _written(tmp_path) == []


def test_a_model_that_raises_is_a_scoring_error_with_its_chunk(tmp_path: Path) -> None:
    data = _frame(100)
    lm.models.save_model(Explodes(), tmp_path / "m", input_example=data[FEATURES].head(3))
    data.loc[42, "a"] = 99
    data.to_parquet(tmp_path / "day.parquet")
    with pytest.raises(ScoringError, match=r"chunk 2 \(rows 41–80\): the model raised ValueError"):
        predict_file(
            tmp_path / "m", tmp_path / "day.parquet", tmp_path / "p.parquet", chunk_size=40
        )
    assert not (tmp_path / "p.parquet").exists()


def test_an_interrupted_run_leaves_nothing(tmp_path: Path, classifier) -> None:  # type: ignore[no-untyped-def]
    folder, _ = classifier
    _frame(1_000).to_parquet(tmp_path / "day.parquet")

    def interrupt(done: int, total: int | None) -> None:
        if done >= 400:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_file(
            folder,
            tmp_path / "day.parquet",
            tmp_path / "p.parquet",
            chunk_size=200,
            progress=interrupt,
        )
    assert _written(tmp_path) == []


def test_bad_inputs_and_outputs_are_refused_clearly(tmp_path: Path, classifier, regressor) -> None:  # type: ignore[no-untyped-def]
    folder, _ = classifier
    good = tmp_path / "day.parquet"
    _frame(20).to_parquet(good)
    out = tmp_path / "p.parquet"
    with pytest.raises(InvalidInputError, match="no file or folder at"):
        predict_file(folder, tmp_path / "nope.parquet", out)
    (tmp_path / "junk.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(InvalidInputError, match=r"junk\.parquet cannot be read as Parquet"):
        predict_file(folder, tmp_path / "junk.parquet", out)
    whole = good.read_bytes()
    (tmp_path / "cut.parquet").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidInputError, match=r"cut\.parquet cannot be read"):
        predict_file(folder, tmp_path / "cut.parquet", out)
    with pytest.raises(InvalidInputError, match="does not exist; create it first"):
        predict_file(folder, good, tmp_path / "missing" / "p.parquet")
    with pytest.raises(InvalidInputError, match=r"should end in \.parquet or \.csv"):
        predict_file(folder, good, tmp_path / "p.json")
    with pytest.raises(InvalidInputError, match="no column"):
        predict_file(folder, good, out, id_columns=["rider"])
    with pytest.raises(InvalidInputError, match="no class probabilities"):
        predict_file(regressor, good, out, proba=True)
    with pytest.raises(InvalidInputError, match="executor must be one of"):
        predict_file(folder, good, out, executor="spark")
    with pytest.raises(InvalidInputError, match="apply to the ray executor only"):
        predict_file(folder, good, out, workers=2)
    predict_file(folder, good, out)
    with pytest.raises(InvalidInputError, match="exists; choose another name, or pass --overwrite"):
        predict_file(folder, good, out)
    assert predict_file(folder, good, out, overwrite=True).rows == 20
    with pytest.raises(InvalidInputError, match="is the input"):
        predict_file(folder, good, good, overwrite=True)
    assert pd.read_parquet(good).shape == (20, 6)  # the input is untouched


def test_an_empty_input_gives_an_empty_typed_output(tmp_path: Path, classifier) -> None:  # type: ignore[no-untyped-def]
    folder, _ = classifier
    _frame(0).to_parquet(tmp_path / "day.parquet")
    result = predict_file(
        folder, tmp_path / "day.parquet", tmp_path / "p.parquet", id_columns="ride_id", proba=True
    )
    schema = pq.read_schema(tmp_path / "p.parquet")
    assert result.rows == 0 and schema.names == ["ride_id", "prediction", "proba_0", "proba_1"]
    assert schema.field("prediction").type == pa.int64()


def test_the_cli_scores_a_file_and_reports_errors(tmp_path: Path, classifier, capsys) -> None:  # type: ignore[no-untyped-def]
    folder, model = classifier
    data = _frame(300)
    data.to_parquet(tmp_path / "day.parquet")
    args = ["predict", str(folder), "-i", str(tmp_path / "day.parquet"), "-o"]
    assert main([*args, str(tmp_path / "p.parquet"), "--id-column", "ride_id", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 300 and summary["columns"] == ["ride_id", "prediction"]
    assert summary["rows_per_second"] > 0
    out = pd.read_parquet(tmp_path / "p.parquet")
    assert out["prediction"].tolist() == model.predict(data[FEATURES]).tolist()

    assert main([*args, str(tmp_path / "p.parquet")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, str(tmp_path / "q.parquet"), "--columns", "city,ride_id", "-q"]) == 0
    table = capsys.readouterr().out
    assert "300" in table and "q.parquet" in table
    assert pd.read_parquet(tmp_path / "q.parquet").columns.tolist()[:2] == ["city", "ride_id"]
    assert (
        main(
            [
                "predict",
                "pricing@champion",
                "-i",
                str(tmp_path / "day.parquet"),
                "-o",
                str(tmp_path / "r.parquet"),
                "--tracking-uri",
                str(tmp_path / "store"),
            ]
        )
        == 3
    )


@pytest.mark.slow
@pytest.mark.ray
def test_the_ray_executor_scores_chunks_on_actors_in_order(tmp_path: Path, classifier) -> None:  # type: ignore[no-untyped-def]
    ray = pytest.importorskip("ray", reason="pip install 'loopml[ray]'")
    folder, model = classifier
    data = _frame(5_000)
    data.loc[4_321, "d"] = None
    data.to_parquet(tmp_path / "day.parquet")
    clean = data.dropna()
    clean.to_parquet(tmp_path / "clean.parquet")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = predict_file(
            folder,
            tmp_path / "clean.parquet",
            tmp_path / "p.parquet",
            executor="ray",
            workers=2,
            chunk_size=300,
            id_columns="ride_id",
            proba=True,
        )
        out = pd.read_parquet(tmp_path / "p.parquet")
        assert out["ride_id"].tolist() == clean["ride_id"].tolist()
        assert out["prediction"].tolist() == model.predict(clean[FEATURES]).tolist()
        assert result.executor == "ray" and result.chunks == 17
        with pytest.raises(SignatureError, match=r"chunk 15 \(rows 4,201–4,500\): column 'd'"):
            predict_file(
                folder,
                tmp_path / "day.parquet",
                tmp_path / "q.parquet",
                executor="ray",
                chunk_size=300,
            )
        assert not (tmp_path / "q.parquet").exists()
    finally:
        ray.shutdown()


@pytest.mark.slow
@pytest.mark.s3
def test_a_dataset_in_s3_is_downloaded_verified_and_cleaned_up(  # type: ignore[no-untyped-def]
    tmp_path: Path, classifier, s3_bucket: str, s3_endpoint: str, monkeypatch
) -> None:
    import tempfile

    folder, model = classifier
    monkeypatch.setenv("LOOPML_ARTIFACT_URI", f"s3://{s3_bucket}/loopml")
    monkeypatch.setenv("LOOPML_S3_ENDPOINT_URL", s3_endpoint)
    data = _frame(700)
    day = lm.data.log_dataset("day", data)
    before = set(Path(tempfile.gettempdir()).glob("loopml-predict-*"))

    result = predict_file(folder, day, tmp_path / "p.parquet", id_columns="ride_id")

    out = pd.read_parquet(tmp_path / "p.parquet")
    assert out["prediction"].tolist() == model.predict(data[FEATURES]).tolist()
    assert result.run_id is not None and result.input == "datasets:/day/1"
    assert set(Path(tempfile.gettempdir()).glob("loopml-predict-*")) == before


def test_a_corrupted_dataset_blob_is_refused(tmp_path: Path, classifier) -> None:  # type: ignore[no-untyped-def]
    import os

    from loopml.data import DataClient
    from loopml.errors import CorruptBlobError

    folder, _ = classifier
    day = lm.data.log_dataset("day", _frame(100))
    data = DataClient()
    (item,) = data.manifest(day).files
    blob = data.blobs.bytes.path_for(data.blobs.key_for(item.digest))  # type: ignore[attr-defined]
    os.chmod(blob, 0o644)
    blob.write_bytes(blob.read_bytes()[:-8] + b"tampered")
    with pytest.raises(CorruptBlobError, match="does not match its digest"):
        predict_file(folder, "datasets:/day@latest", tmp_path / "p.parquet")
    assert _written(tmp_path) == []
