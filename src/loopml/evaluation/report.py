"""The evaluation report: one self-contained HTML page with tables and matplotlib plots
(confusion matrix or residuals, and per-slice bars), images embedded as PNG."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.evaluation.evaluator import EvaluationResult
    from loopml.evaluation.gating import Verdict

__all__ = ["render_evaluation", "render_verdict"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1b7f3b; font-weight: 700; } .fail { color: #b00020; font-weight: 700; }
img { max-width: 100%; }
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(_fmt(c))}</td>'
            if isinstance(c, (int, float))
            else f"<td>{escape(str(c))}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _figure(width: float = 6, height: float = 4) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _plots(result: EvaluationResult) -> list[str]:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ["<p>Install matplotlib (<code>pip install loopml[plots]</code>) for plots.</p>"]
    images = []
    if result.confusion:
        fig = _figure(5, 4)
        ax = fig.subplots()
        shown = ax.imshow(result.confusion, cmap="Blues")
        ax.set_xticks(range(len(result.labels)), result.labels, rotation=45)
        ax.set_yticks(range(len(result.labels)), result.labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i, row in enumerate(result.confusion):
            for j, count in enumerate(row):
                ax.text(j, i, str(count), ha="center", va="center", fontsize=8)
        fig.colorbar(shown)
        ax.set_title("confusion matrix")
        images.append(_png(fig))
    if result.residuals is not None:
        fig = _figure()
        ax = fig.subplots()
        predicted, residual = result.residuals
        ax.scatter(predicted, residual, s=4, alpha=0.4)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("residual (true - predicted)")
        ax.set_title("residuals")
        images.append(_png(fig))
    primary = "rmse" if result.task == "regression" else "accuracy"
    for column in dict.fromkeys(s.column for s in result.by_slice):
        values = result.slice_metric(column, primary)
        if values:
            fig = _figure(6, 0.4 * len(values) + 1.2)
            ax = fig.subplots()
            ax.barh(list(values), list(values.values()))
            ax.axvline(result.metrics.get(primary, 0.0), color="black", linewidth=0.8)
            ax.set_xlabel(f"{primary} (line: overall)")
            ax.set_title(f"{primary} by {column}")
            images.append(_png(fig))
    return images


def render_evaluation(result: EvaluationResult) -> str:
    """The report of one evaluation."""
    parts = [
        f"<h1>Evaluation of {escape(result.model)}</h1>",
        f"<p>data {escape(result.data)} · target <code>{escape(result.target)}</code> · "
        f"task {escape(result.task)} · {result.rows:,} rows</p>",
        "<h2>Metrics</h2>",
        _table(["metric", "value"], [[k, v] for k, v in sorted(result.metrics.items())]),
    ]
    if result.latency:
        parts += [
            "<h2>Latency</h2>",
            _table(["", "value"], [[k, v] for k, v in result.latency.items()]),
        ]
    if result.per_class:
        rows = [
            [c, m["precision"], m["recall"], m["f1"], int(m["support"])]
            for c, m in result.per_class.items()
        ]
        parts += [
            "<h2>Per class</h2>",
            _table(["class", "precision", "recall", "f1", "support"], rows),
        ]
    if result.by_slice:
        names = sorted({k for s in result.by_slice for k in s.metrics})
        rows = [
            [s.column, s.value, s.count, "yes" if s.gated else "no (too few rows)"]
            + [s.metrics.get(n, "") for n in names]
            for s in result.by_slice
        ]
        parts += ["<h2>Slices</h2>", _table(["column", "value", "rows", "gated", *names], rows)]
    for column, f in result.fairness.items():
        parts.append(f"<h2>Fairness across {escape(column)}</h2>")
        if f.metrics:
            parts.append(_table(["metric", "value"], [[k, v] for k, v in f.metrics.items()]))
        names = sorted({k for g in f.by_group.values() for k in g})
        parts.append(
            _table(
                ["group", *names],
                [[g, *(m.get(n, "") for n in names)] for g, m in f.by_group.items()],
            )
        )
    parts += ["<h2>Plots</h2>", *_plots(result)]
    return _page(f"Evaluation of {result.model}", "".join(parts))


def render_verdict(verdict: Verdict) -> str:
    """The report of a gate: the verdict and every check."""
    word = '<span class="pass">PASS</span>' if verdict.passed else '<span class="fail">FAIL</span>'
    rows = [
        [
            c.name,
            c.value,
            "" if c.baseline is None else c.baseline,
            f"{c.kind} {c.bound:g}",
            "pass" if c.passed else "fail",
            c.reason,
        ]
        for c in verdict.checks
    ]
    body = (
        f"<h1>Gate: {escape(verdict.candidate)} {word}</h1>"
        f"<p>against {escape(verdict.against or 'absolute thresholds only')}</p>"
        + _table(["check", "candidate", "baseline", "bound", "result", "reason"], rows)
    )
    return _page(f"Gate of {verdict.candidate}", body)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}"
        "</body></html>\n"
    )
