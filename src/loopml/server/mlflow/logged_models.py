"""The one logged-model route the MLflow client needs for run artifacts.

When the MLflow client lists or downloads ``runs:/<run_id>/<path>`` artifacts, it also asks
``logged-models/search`` whether ``<path>``'s first segment names a logged model of the run
(MLflow 3 keeps models apart from run artifacts). loopml stores models as run artifacts and
has no logged-model objects, so the truthful answer is always an empty page; the rest of
the logged-model API is not served.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["router"]

router = APIRouter(tags=["mlflow"])


class SearchLoggedModelsBody(BaseModel):
    """``logged-models/search`` (only the shape is checked; nothing can match)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    experiment_ids: list[str] = Field(default_factory=list, max_length=1000)
    filter: str | None = None
    max_results: int | None = None
    page_token: str | None = None


@router.post("/logged-models/search")
def search_logged_models(body: SearchLoggedModelsBody) -> dict[str, Any]:
    """Logged models matching a filter: none, since loopml keeps models as run artifacts."""
    return {"models": []}
