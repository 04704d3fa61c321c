"""The slice of loopml's public API the evaluation package uses, imported from the layers
below it (``import loopml`` would reach the layers above)."""

from loopml import registry
from loopml.data import log_input
from loopml.tracking.api import log_dict, log_metrics, log_text, search_experiments, set_tags
from loopml.tracking.fluent import active_run, search_runs, start_run

__all__ = [
    "active_run",
    "log_dict",
    "log_input",
    "log_metrics",
    "log_text",
    "registry",
    "search_experiments",
    "search_runs",
    "set_tags",
    "start_run",
]
