"""The RegistryStore methods of the REST store: each one call to a loopml server's
``/api/v1`` registry routes. The actor travels in the ``X-Loopml-Actor`` header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from loopml.entities import PagedList, RunTag
from loopml.entities._registry import (
    Approval,
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from loopml.schemas.registry import (
    approval_from_json,
    audit_from_json,
    model_from_json,
    version_from_json,
)
from loopml.storage.metadata.registry_base import (
    REGISTRY_MAX_RESULTS_DEFAULT,
    RegistryStore,
    check_alias,
    check_model_name,
    check_model_version,
    check_status,
    check_text,
)

if TYPE_CHECKING:
    from loopml.storage.metadata.rest._http import HttpSession

__all__ = ["RestRegistryMixin"]

_API = "/api/v1"


def _model(name: str) -> str:
    return f"{_API}/registered-models/{quote(check_model_name(name), safe='')}"


def _version(name: str, version: int) -> str:
    return f"{_model(name)}/versions/{check_model_version(version)}"


def _key(key: str) -> str:
    return quote(str(key), safe="")


class RestRegistryMixin(RegistryStore):
    """Registry calls over the store's ``http`` session."""

    http: HttpSession

    def _call(
        self, method: str, path: str, actor: str = "", body: Any = None, **params: Any
    ) -> Any:
        headers = {"X-Loopml-Actor": check_text("actor", actor, 256)} if actor else {}
        clean = {k: v for k, v in params.items() if v is not None}
        return self.http.json(method, path, json=body, params=clean, headers=headers)

    # -- registered models -------------------------------------------------------------
    def create_registered_model(
        self, name: str, description: str = "", tags: Sequence[RunTag] = (), actor: str = ""
    ) -> RegisteredModel:
        body = {
            "name": check_model_name(name),
            "description": description,
            "tags": {t.key: t.value for t in tags},
        }
        return model_from_json(self._call("POST", f"{_API}/registered-models", actor, body))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return model_from_json(self._call("GET", _model(name)))

    def search_registered_models(
        self,
        name_like: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        data = self._call(
            "GET",
            f"{_API}/registered-models",
            name_like=name_like,
            max_results=max_results,
            page_token=page_token,
        )
        models = [model_from_json(m) for m in data["registered_models"]]
        return PagedList(models, data.get("next_page_token"))

    def update_registered_model(
        self, name: str, description: str, actor: str = ""
    ) -> RegisteredModel:
        body = {"description": description}
        return model_from_json(self._call("PATCH", _model(name), actor, body))

    def delete_registered_model(self, name: str, actor: str = "", force: bool = False) -> None:
        self._call("DELETE", _model(name), actor, force=str(bool(force)).lower())

    def rename_registered_model(self, name: str, new_name: str, actor: str = "") -> RegisteredModel:
        # The store's rename is the plain one: the registry client checks deployments and
        # monitors before it calls this (the route guards callers that do not).
        body = {"new_name": check_model_name(new_name), "force": True}
        return model_from_json(self._call("POST", f"{_model(name)}/rename", actor, body))

    def set_registered_model_tag(self, name: str, key: str, value: str, actor: str = "") -> None:
        self._call("POST", f"{_model(name)}/tags", actor, {"key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str, actor: str = "") -> None:
        self._call("DELETE", f"{_model(name)}/tags/{_key(key)}", actor)

    # -- versions ----------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str = "",
        tags: Sequence[RunTag] = (),
        actor: str = "",
    ) -> ModelVersion:
        body = {
            "source": source,
            "run_id": run_id,
            "description": description,
            "tags": {t.key: t.value for t in tags},
        }
        return version_from_json(self._call("POST", f"{_model(name)}/versions", actor, body))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return version_from_json(self._call("GET", _version(name, version)))

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        data = self._call(
            "GET",
            f"{_API}/model-versions",
            name=name,
            run_id=run_id,
            max_results=max_results,
            page_token=page_token,
        )
        versions = [version_from_json(v) for v in data["model_versions"]]
        return PagedList(versions, data.get("next_page_token"))

    def update_model_version(
        self, name: str, version: int, description: str, actor: str = ""
    ) -> ModelVersion:
        body = {"description": description}
        return version_from_json(self._call("PATCH", _version(name, version), actor, body))

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, actor: str = ""
    ) -> None:
        path = f"{_version(name, version)}/tags"
        self._call("POST", path, actor, {"key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: int, key: str, actor: str = "") -> None:
        self._call("DELETE", f"{_version(name, version)}/tags/{_key(key)}", actor)

    def delete_model_version(
        self, name: str, version: int, actor: str = "", force: bool = False
    ) -> None:
        self._call("DELETE", _version(name, version), actor, force=str(bool(force)).lower())

    # -- aliases -----------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int, actor: str = "") -> None:
        path = f"{_model(name)}/aliases/{quote(check_alias(alias), safe='')}"
        self._call("PUT", path, actor, {"version": check_model_version(version)})

    def delete_alias(self, name: str, alias: str, actor: str = "") -> None:
        self._call("DELETE", f"{_model(name)}/aliases/{quote(str(alias), safe='')}", actor)

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        path = f"{_model(name)}/aliases/{quote(str(alias), safe='')}"
        return version_from_json(self._call("GET", path))

    # -- review ------------------------------------------------------------------------
    def set_version_status(
        self,
        name: str,
        version: int,
        status: VersionStatus,
        actor: str = "",
        comment: str = "",
    ) -> ModelVersion:
        body = {"status": check_status(status).value, "comment": comment}
        path = f"{_version(name, version)}/status"
        return version_from_json(self._call("POST", path, actor, body))

    def list_approvals(self, name: str, version: int) -> list[Approval]:
        data = self._call("GET", f"{_version(name, version)}/approvals")
        return [approval_from_json(a) for a in data["approvals"]]

    # -- audit -------------------------------------------------------------------------
    def audit_log(
        self,
        name: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[AuditEntry]:
        data = self._call(
            "GET",
            f"{_API}/audit-log",
            name=name,
            max_results=max_results,
            page_token=page_token,
        )
        return PagedList([audit_from_json(e) for e in data["entries"]], data.get("next_page_token"))
