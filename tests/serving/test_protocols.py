"""Both protocols against a live server: exact JSON shapes, datatypes, errors, metadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from loopml.entities import ModelVersion
from loopml.tracking.client import TrackingClient
from tests.serving import models as test_models
from tests.serving.conftest import (
    FEATURES,
    logistic,
    register,
    serving,
    split_body,
    typed_frame,
)


@pytest.fixture
def pricing_server(pricing: ModelVersion, store: TrackingClient) -> Iterator[tuple[str, Any]]:
    with serving("pricing@champion", client=store) as (url, state):
        yield url, state


@pytest.fixture
def echo_server(store: TrackingClient) -> Iterator[str]:
    register(test_models.Echo(), typed_frame(), "echo")
    with serving("echo/1", client=store) as (url, _):
        yield url


def _expected(rows: list[list[float]]) -> list[int]:
    import pandas as pd

    return logistic().predict(pd.DataFrame(rows, columns=FEATURES)).tolist()


ROWS = [[0.1, 0.2, 0.3, 0.4], [-1.0, -2.0, 0.5, 0.0], [3, 1, 2, 0]]


def test_invocations_accepts_every_mlflow_format(pricing_server: tuple[str, Any]) -> None:
    url, _ = pricing_server
    want = _expected(ROWS)
    bodies = [
        split_body(ROWS),
        {"dataframe_records": [dict(zip(FEATURES, r, strict=True)) for r in ROWS]},
        {"instances": [dict(zip(FEATURES, r, strict=True)) for r in ROWS]},
        {"instances": ROWS},
        {"inputs": {f: [r[i] for r in ROWS] for i, f in enumerate(FEATURES)}},
        {"inputs": ROWS},
    ]
    for body in bodies:
        response = httpx.post(f"{url}/invocations", json=body)
        assert response.status_code == 200, (body, response.text)
        assert response.json() == {"predictions": want}, body
        assert len(response.headers["x-request-id"]) == 32
        assert response.headers["x-loopml-model-version"] == "1"
    csv = "a,b,c,d\n" + "\n".join(",".join(str(v) for v in r) for r in ROWS) + "\n"
    response = httpx.post(f"{url}/invocations", content=csv, headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": want}


def test_invocations_with_several_named_outputs_answers_records(echo_server: str) -> None:
    body = {"dataframe_records": typed_frame().to_dict("records")}
    response = httpx.post(f"{echo_server}/invocations", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "predictions": [
            {"doubled": 2, "label": "OSLO"},
            {"doubled": 4, "label": "ROME"},
            {"doubled": 6, "label": "LIMA"},
        ]
    }


def test_oip_one_tensor_per_column_with_their_datatypes(echo_server: str) -> None:
    body = {
        "id": "req-1",
        "inputs": [
            {"name": "x", "shape": [2], "datatype": "INT64", "data": [5, 7]},
            {"name": "name", "shape": [2, 1], "datatype": "BYTES", "data": [["ab"], ["cd"]]},
            {"name": "flag", "shape": [2], "datatype": "BOOL", "data": [True, False]},
            {"name": "w", "shape": [2], "datatype": "FP32", "data": [1, 2.5]},
        ],
    }
    response = httpx.post(f"{echo_server}/v2/models/echo/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "req-1"
    assert response.json() == {
        "model_name": "echo",
        "model_version": "1",
        "id": "req-1",
        "parameters": {},
        "outputs": [
            {"name": "doubled", "datatype": "INT64", "shape": [2], "data": [10, 14]},
            {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["AB", "CD"]},
        ],
    }
    # asking for one output; the version in the path
    body["outputs"] = [{"name": "label"}]
    response = httpx.post(f"{echo_server}/v2/models/echo/versions/1/infer", json=body)
    assert [o["name"] for o in response.json()["outputs"]] == ["label"]


def test_oip_a_single_2d_input_and_float_outputs(pricing_server: tuple[str, Any]) -> None:
    url, _ = pricing_server
    body = {"inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": ROWS}]}
    response = httpx.post(f"{url}/v2/models/pricing/infer", json=body)
    assert response.status_code == 200, response.text
    out = response.json()["outputs"]
    assert out == [
        {"name": "prediction", "datatype": "INT64", "shape": [3], "data": _expected(ROWS)}
    ]
    flat = {**body["inputs"][0], "data": [v for r in ROWS for v in r]}  # row-major, flat
    assert (
        httpx.post(f"{url}/v2/models/pricing/infer", json={"inputs": [flat]}).json()["outputs"]
        == out
    )


def test_oip_array_models_take_one_tensor(store: TrackingClient) -> None:
    example = np.arange(6, dtype="float32").reshape(2, 3)
    register(test_models.RowSum(), example, "rowsum")
    with serving("rowsum/1", client=store) as (url, _):
        body = {
            "inputs": [
                {"name": "t", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}
            ]
        }
        response = httpx.post(f"{url}/v2/models/rowsum/infer", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["data"] == [6.0, 15.0]
        assert response.json()["outputs"][0]["datatype"] == "FP32"
        meta = httpx.get(f"{url}/v2/models/rowsum").json()
        assert meta["inputs"] == [{"name": "tensor", "datatype": "FP32", "shape": [-1, 3]}]
        wrong = {"inputs": [{**body["inputs"][0], "shape": [3, 2]}]}
        response = httpx.post(f"{url}/v2/models/rowsum/infer", json=wrong)
        assert response.status_code == 400 and "dimension 1 should be 3" in response.json()["error"]


def test_metadata_health_and_unknown_names(pricing_server: tuple[str, Any]) -> None:
    url, _ = pricing_server
    assert httpx.get(f"{url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{url}/v2/health/ready").status_code == 200
    assert httpx.get(f"{url}/v2/models/pricing/ready").json()["ready"] is True
    assert httpx.get(f"{url}/v2/models/pricing/versions/1/ready").status_code == 200
    meta = httpx.get(f"{url}/v2/models/pricing").json()
    assert meta["name"] == "pricing" and meta["versions"] == ["1"]
    assert meta["platform"] == "loopml-sklearn"
    assert meta["inputs"] == [{"name": f, "datatype": "FP64", "shape": [-1]} for f in FEATURES]
    assert meta["outputs"] == [{"name": "prediction", "datatype": "INT64", "shape": [-1]}]
    assert httpx.get(f"{url}/v2").json()["name"] == "loopml"
    missing = httpx.post(f"{url}/v2/models/nope/infer", json={"inputs": []})
    assert missing.status_code == 404 and "'nope'" in missing.json()["error"]
    assert httpx.get(f"{url}/v2/models/pricing/versions/9").status_code == 404
    assert httpx.get(f"{url}/no/such/route").status_code == 404
    assert httpx.get(f"{url}/invocations").status_code == 405


BAD = [
    ({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3]]}}, "missing column 'd'"),
    (split_body([[1, 2, 3, "x"]]), "column 'd' holds string values"),
    (split_body([[1, 2, 3]]), "dataframe_split.data[0] has 3 values"),
    (split_body([[1, 2, 3, None]]), "column 'd' has 1 null value"),
    (split_body([[1, 2, 3, 4]], ["a", "b", "c", "e"]), "missing column 'd'"),
    ({"dataframe_split": {"columns": FEATURES, "data": [[1, 2, 3, 4]]}, "x": 1}, "'x'"),
    ({"records": []}, "exactly one of"),
    ({"dataframe_records": [{"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 1}]}, "dataframe_records[1]"),
    ({"instances": [[1, 2, 3, 4, 5]]}, "row 0 has 5 values"),
    ([1, 2], "must be a JSON object"),
]


@pytest.mark.parametrize(("body", "fragment"), BAD)
def test_bad_invocations_get_a_4xx_naming_the_field(
    pricing_server: tuple[str, Any], body: Any, fragment: str
) -> None:
    url, _ = pricing_server
    response = httpx.post(f"{url}/invocations", json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_bad_bodies_and_oip_payloads(pricing_server: tuple[str, Any]) -> None:
    url, _ = pricing_server
    not_json = httpx.post(
        f"{url}/invocations", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["message"]
    xml = httpx.post(f"{url}/invocations", content=b"<a/>", headers={"content-type": "text/xml"})
    assert xml.status_code == 415
    csv = httpx.post(
        f"{url}/invocations", content=b"a,b\n1,x\n", headers={"content-type": "text/csv"}
    )
    assert csv.status_code == 400 and "missing columns 'c', 'd'" in csv.json()["message"]
    tensor = {"name": "a", "shape": [2], "datatype": "FP64", "data": [1.0]}
    cases = [
        ({"inputs": [tensor]}, "inputs[0] ('a'): 'shape' [2] holds 2 values, 'data' has 1"),
        ({"inputs": [{**tensor, "datatype": "FP99"}]}, "'datatype' 'FP99' is not one of"),
        ({"inputs": [{**tensor, "data": ["x", "y"]}]}, "datatype FP64 but 'data' holds str"),
        ({"inputs": [{**tensor, "data": [1.0, 2.0]}]}, "missing columns 'b', 'c', 'd'"),
        ({"inputs": "nope"}, "'inputs' must be a non-empty list"),
        ({"inputs": [{**tensor, "data": [1.0, 2.0]}], "id": 5}, "'id' must be a string"),
    ]
    for body, fragment in cases:
        response = httpx.post(f"{url}/v2/models/pricing/infer", json=body)
        assert response.status_code == 400, (body, response.text)
        assert fragment in response.json()["error"], response.json()


def test_a_body_over_the_size_limit_is_a_413_and_the_server_serves_on(
    pricing: ModelVersion, store: TrackingClient
) -> None:
    settings = store.settings.replace(serving_max_body_mb=1)
    with serving("pricing@champion", client=store, settings=settings) as (url, _):
        rows = [[0.1, 0.2, 0.3, 0.4]] * 80_000  # about 1.7 MiB of JSON
        big = httpx.post(f"{url}/invocations", json=split_body(rows))
        assert big.status_code == 413, big.text
        assert "over this server's limit of 1 MiB" in big.json()["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
            yield b'{"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": ['
            for _ in range(80_000):
                yield b"[0.1, 0.2, 0.3, 0.4],"
            yield b"[0.1, 0.2, 0.3, 0.4]]}}"

        streamed = httpx.post(
            f"{url}/v2/models/pricing/infer",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        assert streamed.status_code == 413, streamed.text
        small = httpx.post(f"{url}/invocations", json=split_body(ROWS))
        assert small.status_code == 200 and small.json()["predictions"] == _expected(ROWS)


def test_request_ids_are_taken_from_the_client_when_valid(pricing_server: tuple[str, Any]) -> None:
    url, _ = pricing_server
    ok = httpx.post(f"{url}/invocations", json=split_body(ROWS), headers={"x-request-id": "abc-1"})
    assert ok.headers["x-request-id"] == "abc-1"
    bad = httpx.post(f"{url}/invocations", json=split_body(ROWS), headers={"x-request-id": "a b"})
    assert bad.status_code == 400 and "request id" in bad.json()["message"]
    assert bad.headers["x-request-id"] != "a b"


def test_a_raising_model_is_a_500_with_the_request_id_and_the_server_serves_on(
    store: TrackingClient,
) -> None:
    register(test_models.Raiser(), typed_frame()[["x"]], "raiser")
    with serving("raiser/1", client=store) as (url, _):
        bad = httpx.post(f"{url}/invocations", json={"inputs": {"x": [1, -1]}})
        assert bad.status_code == 500
        body = bad.json()
        assert body["request_id"] == bad.headers["x-request-id"]
        assert "ValueError: negative x is not supported" in body["message"]
        assert body["request_id"] in body["message"]
        good = httpx.post(f"{url}/invocations", json={"inputs": {"x": [1, 2]}})
        assert good.status_code == 200 and good.json() == {"predictions": [2, 4]}


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_metrics_count_requests_errors_latency_and_batches(
    pricing_server: tuple[str, Any],
) -> None:
    url, _ = pricing_server
    for _ in range(3):
        httpx.post(f"{url}/invocations", json=split_body(ROWS))
    httpx.post(f"{url}/invocations", json=split_body([[1]]))
    text = httpx.get(f"{url}/metrics").text
    labels = {"deployment": "pricing", "model": "pricing", "version": "1", "route": "primary"}
    requests = "loopml_serving_requests_total"
    assert metric(text, requests, **labels, protocol="invocations", status="200") == 3
    assert metric(text, requests, **labels, status="400") == 1
    assert metric(text, "loopml_serving_request_duration_seconds_count", **labels) == 4
    assert metric(text, "loopml_serving_batch_rows_sum", **labels) == 9  # 3 calls x 3 rows
    assert metric(text, "loopml_serving_batch_rows_count", **labels) == 3
    assert "loopml_serving_prediction_log_dropped_total" in text
    stats = httpx.get(f"{url}/stats").json()
    assert stats["stats"]["routes"][0]["requests"] == 4
    assert stats["stats"]["routes"][0]["client_errors"] == 1
    assert stats["startup_seconds"] > 0 and stats["idle_memory_mib"] > 0


def test_a_model_without_a_signature_takes_what_pandas_infers(store: TrackingClient) -> None:
    import loopml as lm

    with lm.start_run():
        info = lm.models.log_model(logistic(), "model")  # no input example: no signature
    lm.registry.register(info.uri, "plain")
    with serving("plain/1", client=store) as (url, _):
        response = httpx.post(f"{url}/invocations", json=split_body(ROWS))
        assert response.status_code == 200 and response.json() == {"predictions": _expected(ROWS)}
        assert httpx.get(f"{url}/v2/models/plain").json()["inputs"] == []


def test_deployment_specs_normalise_references(tmp_path: Any) -> None:
    from loopml.errors import InvalidInputError
    from loopml.serving import DeploymentSpec
    from loopml.serving.spec import AUTO_BATCH_ROWS, default_name

    spec = DeploymentSpec("pricing@champion", canary="pricing/2", canary_weight=5)
    assert spec.model == "models:/pricing@champion" and spec.canary == "models:/pricing/2"
    assert DeploymentSpec.from_dict(spec.to_dict()) == spec
    assert spec.batch_rows(rows_independent=True) == AUTO_BATCH_ROWS  # 0: by flavor
    assert spec.batch_rows(rows_independent=False) == 1
    assert spec.replace(max_batch_size=8).batch_rows(rows_independent=False) == 8
    folder = tmp_path / "my model"
    folder.mkdir()
    assert DeploymentSpec(str(folder)).model == str(folder.resolve())
    assert default_name(str(folder)) == "my-model"
    assert default_name("runs:/" + "a" * 32 + "/model") == "model"
    for bad, fragment in [
        ({"model": "pricing/1", "canary_weight": 5}, "needs a canary"),
        ({"model": "pricing/1", "port": 70000}, "port"),
        ({"model": "pricing/1", "max_batch_size": -1}, "max_batch_size"),
        ({"model": "pricing/1", "colour": "red"}, "unknown deployment spec key"),
        ({"model": "./missing"}, "not a model folder"),
    ]:
        with pytest.raises(InvalidInputError, match=fragment):
            DeploymentSpec.from_dict(bad)
