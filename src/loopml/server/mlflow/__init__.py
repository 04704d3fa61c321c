"""The MLflow REST API on the loopml server."""

from fastapi import FastAPI


def include(app: FastAPI) -> None:
    """Mount the MLflow-compatible routes on the app."""
