"""loopml's schedule API (``/api/v1/schedules``): pipelines on a cron, claimed atomically."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from loopml.schemas.datasets import (
    ClaimBody,
    CreateScheduleBody,
    ScheduleRunBody,
    schedule_to_json,
)
from loopml.server.deps import get_stores
from loopml.storage import Stores
from loopml.storage.metadata.base import MetadataStore

router = APIRouter(tags=["schedules"])


def _metadata(stores: Annotated[Stores, Depends(get_stores)]) -> MetadataStore:
    return stores.metadata


Store = Annotated[MetadataStore, Depends(_metadata)]
Name = Annotated[str, Path(min_length=1, max_length=250)]


@router.post("/schedules")
def create_schedule(body: CreateScheduleBody, store: Store) -> dict[str, Any]:
    """Add a schedule."""
    made = store.create_schedule(
        body.name, body.target, body.cron, body.params, body.next_run_time, body.created_by
    )
    return schedule_to_json(made)


@router.get("/schedules")
def list_schedules(store: Store) -> dict[str, Any]:
    """Every schedule, by name."""
    return {"schedules": [schedule_to_json(s) for s in store.list_schedules()]}


@router.get("/schedules/{name}")
def get_schedule(name: Name, store: Store) -> dict[str, Any]:
    """One schedule."""
    return schedule_to_json(store.get_schedule(name))


@router.delete("/schedules/{name}")
def delete_schedule(name: Name, store: Store) -> dict[str, Any]:
    """Remove a schedule."""
    store.delete_schedule(name)
    return {}


@router.post("/schedules/{name}/claim")
def claim_schedule(name: Name, body: ClaimBody, store: Store) -> dict[str, Any]:
    """Claim the slot due at ``due``: ``claimed`` is true for exactly one caller."""
    return {"claimed": store.claim_schedule(name, body.due, body.next_run_time)}


@router.post("/schedules/{name}/runs")
def record_run(name: Name, body: ScheduleRunBody, store: Store) -> dict[str, Any]:
    """Record the run a claimed slot started and how it ended."""
    store.record_schedule_run(name, body.run_id, body.status)
    return {}
