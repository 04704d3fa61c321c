"""Pipelines: plain Python steps, cached and reproducible, run inline, in processes or on Ray.

from loopml import step, pipeline

@step
def load(day: str) -> pd.DataFrame: ...

@step(retries=2)
def train(df: pd.DataFrame, lr: float = 0.1) -> GradientBoostingRegressor: ...

@pipeline
def training(day: str = "2026-11-01", lr: float = 0.1):
    train(load(day), lr=lr)

run = training.run(lr=0.05)            # a parent run with one child run per step
run.output("train")                    # the trained model, read back
"""

from loopml.pipelines.decorators import Pipeline, Step, pipeline, step
from loopml.pipelines.executors import EXECUTORS
from loopml.pipelines.graph import StepOutput
from loopml.pipelines.materializers import (
    Materializer,
    PickledOutputWarning,
    register_materializer,
)
from loopml.pipelines.reproduce import ReproduceResult, reproduce
from loopml.pipelines.runner import PipelineRun, StepRecord

__all__ = [
    "EXECUTORS",
    "Materializer",
    "PickledOutputWarning",
    "Pipeline",
    "PipelineRun",
    "ReproduceResult",
    "Step",
    "StepOutput",
    "StepRecord",
    "pipeline",
    "register_materializer",
    "reproduce",
    "step",
]
