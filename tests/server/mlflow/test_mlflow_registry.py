"""The MLflow client's model flow against a loopml server: log_model, register, alias, load."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression

import loopml as lm


def _model() -> tuple[LinearRegression, np.ndarray]:
    X, y = make_regression(n_samples=80, n_features=3, random_state=0)
    return LinearRegression().fit(X, y), X


@pytest.mark.slow
# MLflow's own advisory warnings (type hints, environment inference) are not under test.
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_log_register_alias_and_load_by_alias(mlflow_client, loopml_client) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn

    model, X = _model()
    mlflow.set_experiment("mlflow-registry")
    with mlflow.start_run() as run:
        # cloudpickle: MLflow's default (skops) needs a package the server does not care about
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=X[:3], serialization_format="cloudpickle"
        )
    assert info.model_id.startswith("m-")
    assert mlflow_client.get_logged_model(info.model_id).status.to_proto() != 0

    version = mlflow.register_model(info.model_uri, "mlflow-pricing")
    assert version.version == "1"
    mlflow_client.set_registered_model_alias("mlflow-pricing", "prod", "1")
    loaded = mlflow.pyfunc.load_model("models:/mlflow-pricing@prod")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(
        mlflow.pyfunc.load_model("models:/mlflow-pricing/1").predict(X), model.predict(X)
    )

    # the same objects, seen through loopml's own store
    store = loopml_client.stores.metadata
    mv = store.get_version_by_alias("mlflow-pricing", "prod")
    assert mv.run_id == run.info.run_id
    assert mv.source == f"runs:/{run.info.run_id}/model"
    assert dict(mv.tags)["mlflow.model_id"] == info.model_id
    assert any(a.path.startswith("model/") for a in loopml_client.list_artifacts(run.info.run_id))

    # loopml's governance holds for MLflow clients: champion needs an approved version
    with pytest.raises(mlflow.exceptions.MlflowException, match="approve") as caught:
        mlflow_client.set_registered_model_alias("mlflow-pricing", "champion", "1")
    assert caught.value.error_code == "INVALID_STATE"
    store.set_version_status("mlflow-pricing", 1, lm.registry.VersionStatus.APPROVED)
    mlflow_client.set_registered_model_alias("mlflow-pricing", "champion", "1")
    assert mlflow_client.get_model_version_by_alias("mlflow-pricing", "champion").version == "1"


def test_registry_crud_tags_search_and_delete(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    mlflow.set_experiment("mlflow-registry-crud")
    with mlflow.start_run() as run:
        mlflow.log_text("weights", "files/weights.txt")
    client = mlflow_client
    client.create_registered_model("crud-model", tags={"team": "ml"}, description="first")
    v1 = client.create_model_version(
        "crud-model", f"runs:/{run.info.run_id}/files", run.info.run_id
    )
    v2 = client.create_model_version(
        "crud-model", f"runs:/{run.info.run_id}/files", run.info.run_id
    )
    assert (v1.version, v2.version) == ("1", "2")
    assert client.get_model_version("crud-model", "1").status == "READY"
    assert client.get_model_version("crud-model", "1").status_message == "pending_review"

    client.update_registered_model("crud-model", description="second")
    client.set_registered_model_tag("crud-model", "owner", "ana")
    client.delete_registered_model_tag("crud-model", "team")
    model = client.get_registered_model("crud-model")
    assert model.description == "second" and model.tags == {"owner": "ana"}
    assert [v.version for v in model.latest_versions] == ["2"]

    client.set_model_version_tag("crud-model", "1", "validated", "yes")
    client.update_model_version("crud-model", "1", description="v1")
    assert client.get_model_version("crud-model", "1").tags == {"validated": "yes"}
    client.delete_model_version_tag("crud-model", "1", "validated")
    assert client.get_model_version("crud-model", "1").tags == {}

    client.set_registered_model_alias("crud-model", "staging", "2")
    assert client.get_registered_model("crud-model").aliases == {"staging": "2"}
    found = client.search_model_versions(f"name = 'crud-model' AND run_id = '{run.info.run_id}'")
    assert sorted(v.version for v in found) == ["1", "2"]
    assert [m.name for m in client.search_registered_models("name = 'crud-model'")] == [
        "crud-model"
    ]
    assert "crud-model" in [m.name for m in client.search_registered_models("name LIKE 'crud%'")]
    uri = client.get_model_version_download_uri("crud-model", "1")
    assert uri.endswith(f"/{run.info.run_id}/artifacts/files")
    client.delete_registered_model_alias("crud-model", "staging")
    client.delete_model_version("crud-model", "2")
    client.delete_registered_model("crud-model")
    with pytest.raises(mlflow.exceptions.MlflowException) as caught:
        client.get_registered_model("crud-model")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_rename_registered_model(mlflow_client, loopml_client) -> None:  # type: ignore[no-untyped-def]
    import httpx
    import mlflow

    mlflow.set_experiment("mlflow-registry-rename")
    with mlflow.start_run() as run:
        mlflow.log_text("weights", "files/weights.txt")
    client = mlflow_client
    source = f"runs:/{run.info.run_id}/files"
    client.create_registered_model("rename-old", tags={"team": "ml"}, description="first")
    for _ in range(2):
        client.create_model_version("rename-old", source, run.info.run_id)
    client.set_model_version_tag("rename-old", "1", "validated", "yes")
    client.set_registered_model_alias("rename-old", "prod", "1")

    client.rename_registered_model("rename-old", "rename-new")  # MLflow's client returns None
    renamed = client.get_registered_model("rename-new")
    assert (renamed.name, renamed.description, renamed.tags) == (
        "rename-new",
        "first",
        {"team": "ml"},
    )
    assert renamed.aliases == {"prod": "1"}
    assert [v.version for v in renamed.latest_versions] == ["2"]
    by_alias = client.get_model_version_by_alias("rename-new", "prod")
    assert (by_alias.name, by_alias.version, by_alias.tags) == (
        "rename-new",
        "1",
        {"validated": "yes"},
    )
    assert client.get_model_version_download_uri("rename-new", "2").endswith("/artifacts/files")
    with pytest.raises(mlflow.exceptions.MlflowException) as caught:
        client.get_registered_model("rename-old")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # MLflow's errors for a missing and a taken name
    with pytest.raises(mlflow.exceptions.MlflowException) as caught:
        client.rename_registered_model("rename-old", "rename-other")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.create_registered_model("rename-taken")
    with pytest.raises(mlflow.exceptions.MlflowException) as caught:
        client.rename_registered_model("rename-new", "rename-taken")
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert "rename-taken" in caught.value.message
    # loopml's audit log has the whole story under the new name
    store = loopml_client.stores.metadata
    actions = [e.action for e in store.audit_log("rename-new")]
    assert actions[0] == "create_model" and actions[-1] == "rename_model"
    # a model a loopml deployment serves is not renamed behind its back
    store.create_deployment("rename-api", {"model": "models:/rename-new@prod"})
    with pytest.raises(mlflow.exceptions.MlflowException) as caught:
        client.rename_registered_model("rename-new", "rename-newer")
    assert caught.value.error_code == "INVALID_STATE"
    assert "rename-api" in caught.value.message
    assert client.get_registered_model("rename-new").name == "rename-new"
    store.delete_deployment("rename-api")
    # the answer is MLflow's: the renamed registered_model
    answer = httpx.post(
        f"{mlflow_client.tracking_uri}/api/2.0/mlflow/registered-models/rename",
        json={"name": "rename-new", "new_name": "rename-final"},
    )
    assert answer.status_code == 200, answer.text
    model = answer.json()["registered_model"]
    assert (model["name"], model["aliases"]) == (
        "rename-final",
        [{"alias": "prod", "version": "1"}],
    )
    assert [v["name"] for v in model["latest_versions"]] == ["rename-final"]


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("POST", "registered-models/create", {"name": ""}, "INVALID_PARAMETER_VALUE"),
        ("GET", "registered-models/get?name=nope", None, "RESOURCE_DOES_NOT_EXIST"),
        ("GET", "model-versions/get?name=nope&version=abc", None, "INVALID_PARAMETER_VALUE"),
        (
            "GET",
            "registered-models/search?filter=creation_timestamp%3E5",
            None,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "model-versions/create",
            {"name": "nope", "source": "runs:/" + "0" * 32 + "/m"},
            "INVALID_PARAMETER_VALUE",
        ),
        ("GET", "logged-models/m-nope", None, "RESOURCE_DOES_NOT_EXIST"),
        (
            "POST",
            "logged-models/search",
            {"experiment_ids": ["0"], "filter": "metrics.x > 1"},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "model-versions/create",
            {"name": "nope", "source": "file:///etc/passwd"},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "model-versions/create",
            {"name": "nope", "source": "/etc/passwd"},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "model-versions/create",
            {"name": "nope", "source": "mlflow-artifacts:/1/" + "a" * 32 + "/artifacts/../../x"},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "model-versions/create",
            {"name": "nope", "source": "runs:/" + "a" * 32 + "/../../etc"},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "registered-models/alias",
            {"name": "nope", "alias": "x", "version": "1"},
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "POST",
            "registered-models/rename",
            {"name": "nope", "new_name": "a/b"},
            "INVALID_PARAMETER_VALUE",
        ),
        ("POST", "registered-models/rename", {"name": "nope"}, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_bad_registry_requests_answer_4xx(mlflow_server, method, path, body, code) -> None:  # type: ignore[no-untyped-def]
    import httpx

    response = httpx.request(method, f"{mlflow_server.url}/api/2.0/mlflow/{path}", json=body)
    assert 400 <= response.status_code < 500, response.text
    payload: dict[str, Any] = response.json()
    assert payload["error_code"] == code, payload
