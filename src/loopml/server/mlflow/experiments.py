"""MLflow's experiment endpoints (``/api/2.0/mlflow/experiments/...``)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from loopml.entities import Experiment, RunTag, ViewType
from loopml.errors import ExperimentNotFoundError, InvalidInputError, SearchSyntaxError
from loopml.server.deps import get_stores
from loopml.server.mlflow.convert import experiment_json, parse_view_type
from loopml.server.mlflow.schemas import (
    CreateExperimentBody,
    ExperimentIdBody,
    SearchExperimentsBody,
    SetExperimentTagBody,
    UpdateExperimentBody,
)
from loopml.storage import Stores
from loopml.storage.metadata.search import like_matcher

__all__ = ["router"]

router = APIRouter(tags=["mlflow"])
StoresDep = Annotated[Stores, Depends(get_stores)]

_MAX_EXPERIMENTS = 50_000
_DEFAULT_MAX = 1000


@router.post("/experiments/create")
def create_experiment(body: CreateExperimentBody, stores: StoresDep) -> dict[str, Any]:
    """Create an experiment; answers ``{"experiment_id"}``."""
    tags = [RunTag(t.key, t.value) for t in body.tags]
    # The MLflow artifact location is always the server's proxy, so the client's is ignored.
    exp_id = stores.metadata.create_experiment(body.name, None, tags)
    return {"experiment_id": exp_id}


@router.get("/experiments/get")
def get_experiment(
    stores: StoresDep, experiment_id: Annotated[str, Query(max_length=64)]
) -> dict[str, Any]:
    """One experiment by id."""
    return {"experiment": experiment_json(stores.metadata.get_experiment(experiment_id))}


@router.get("/experiments/get-by-name")
def get_experiment_by_name(
    stores: StoresDep, experiment_name: Annotated[str, Query(max_length=500)]
) -> dict[str, Any]:
    """One experiment by name (RESOURCE_DOES_NOT_EXIST when there is none)."""
    exp = stores.metadata.get_experiment_by_name(experiment_name)
    if exp is None:
        raise ExperimentNotFoundError(f"no experiment named {experiment_name!r}")
    return {"experiment": experiment_json(exp)}


@router.post("/experiments/search")
def search_experiments_post(body: SearchExperimentsBody, stores: StoresDep) -> dict[str, Any]:
    """Experiments matching a filter, in order, one page at a time."""
    return _search(stores, body)


@router.get("/experiments/search")
def search_experiments_get(
    stores: StoresDep,
    max_results: int | None = None,
    page_token: Annotated[str | None, Query(max_length=1000)] = None,
    filter: Annotated[str | None, Query(max_length=10_000)] = None,
    order_by: Annotated[list[str] | None, Query(max_length=20)] = None,
    view_type: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """The GET form of ``experiments/search``."""
    body = SearchExperimentsBody(
        max_results=max_results,
        page_token=page_token,
        filter=filter,
        order_by=order_by or [],
        view_type=view_type,
    )
    return _search(stores, body)


@router.post("/experiments/update")
def update_experiment(body: UpdateExperimentBody, stores: StoresDep) -> dict[str, Any]:
    """Rename an experiment."""
    stores.metadata.rename_experiment(body.experiment_id, body.new_name)
    return {}


@router.post("/experiments/delete")
def delete_experiment(body: ExperimentIdBody, stores: StoresDep) -> dict[str, Any]:
    """Soft-delete an experiment."""
    stores.metadata.delete_experiment(body.experiment_id)
    return {}


@router.post("/experiments/restore")
def restore_experiment(body: ExperimentIdBody, stores: StoresDep) -> dict[str, Any]:
    """Restore a deleted experiment."""
    stores.metadata.restore_experiment(body.experiment_id)
    return {}


@router.post("/experiments/set-experiment-tag")
def set_experiment_tag(body: SetExperimentTagBody, stores: StoresDep) -> dict[str, Any]:
    """Set a tag on an experiment."""
    stores.metadata.set_experiment_tag(body.experiment_id, body.key, body.value)
    return {}


# -- search ------------------------------------------------------------------------------
# Experiments are few, so search reads them all and filters, sorts and pages in memory;
# that supports MLflow's experiment filter language without a second query engine.
_CLAUSE = re.compile(
    r"""^\s*(?:(?:attributes?|attr)\.)?(?P<field>name|tags?\.(?:`[^`]+`|"[^"]+"|[\w.]+))
        \s*(?P<op>=|!=|(?:NOT\s+)?I?LIKE)\s*'(?P<value>(?:[^']|'')*)'\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_ORDER = re.compile(
    r"^\s*(?:(?:attributes?|attr)\.)?(?P<field>name|experiment_id|creation_time|"
    r"last_update_time)(?:\s+(?P<dir>ASC|DESC))?\s*$",
    re.IGNORECASE,
)


def _clause(text: str) -> Callable[[Experiment], bool]:
    match = _CLAUSE.match(text)
    if match is None:
        raise SearchSyntaxError(
            f"cannot parse experiment filter clause {text.strip()!r}; write "
            "name = 'x', name LIKE 'x%' or tags.key = 'v', joined by AND"
        )
    field, op = match["field"], re.sub(r"\s+", " ", match["op"].upper())
    value = match["value"].replace("''", "'")
    tag = None if field.lower() == "name" else field.split(".", 1)[1].strip('`"')

    def get(exp: Experiment) -> str | None:
        return exp.name if tag is None else exp.tags.get(tag)

    if op in ("=", "!="):
        want = op == "="
        return lambda exp: (get(exp) == value) is want and get(exp) is not None
    negate = op.startswith("NOT")
    test = like_matcher(value, case="ILIKE" not in op)

    def like(exp: Experiment) -> bool:
        got = get(exp)
        return got is not None and test(got) is not negate

    return like


def _sort_key(field: str) -> Callable[[Experiment], Any]:
    if field == "experiment_id":
        return lambda e: int(e.experiment_id) if e.experiment_id.isdigit() else e.experiment_id
    return lambda e: getattr(e, field)


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInputError("page_token is not one this server issued") from exc
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInputError("page_token is not one this server issued")
    return offset


def _all_experiments(stores: Stores, view: ViewType) -> list[Experiment]:
    found: list[Experiment] = []
    token: str | None = None
    while True:
        page = stores.metadata.search_experiments(view, _MAX_EXPERIMENTS, token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def _search(stores: Stores, body: SearchExperimentsBody) -> dict[str, Any]:
    max_results = _DEFAULT_MAX if body.max_results is None else body.max_results
    if not 1 <= max_results <= _MAX_EXPERIMENTS:
        raise InvalidInputError(
            f"max_results must be from 1 to {_MAX_EXPERIMENTS}, got {max_results}"
        )
    text = (body.filter or "").strip()
    tests = [_clause(c) for c in _AND.split(text)] if text else []
    experiments = [
        e
        for e in _all_experiments(stores, parse_view_type(body.view_type))
        if all(t(e) for t in tests)
    ]
    # MLflow's default order: most recently updated first, then by id.
    experiments.sort(key=_sort_key("experiment_id"))
    experiments.sort(key=lambda e: e.last_update_time, reverse=True)
    for clause in reversed(body.order_by):
        match = _ORDER.match(clause)
        if match is None:
            raise SearchSyntaxError(
                f"cannot order experiments by {clause!r}; use name, experiment_id, "
                "creation_time or last_update_time, optionally followed by ASC or DESC"
            )
        descending = (match["dir"] or "ASC").upper() == "DESC"
        experiments.sort(key=_sort_key(match["field"].lower()), reverse=descending)
    start = _offset(body.page_token)
    page = experiments[start : start + max_results]
    response: dict[str, Any] = {"experiments": [experiment_json(e) for e in page]}
    if start + max_results < len(experiments):
        next_offset = json.dumps({"offset": start + max_results}).encode()
        response["next_page_token"] = base64.urlsafe_b64encode(next_offset).decode()
    return response
