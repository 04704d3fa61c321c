"""The HTML page of a drift report: one self-contained file (styles inline, plots drawn
with matplotlib and embedded as SVG), readable with no server and no network."""

from __future__ import annotations

import io
import itertools
import re
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.monitoring.report import ColumnDrift, DriftReport

__all__ = ["render_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 80rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.drift { color: #b00020; font-weight: 700; } .stable { color: #1b7f3b; font-weight: 700; }
.untested { color: #777; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; border: 1px solid #eee; padding: .5rem; width: 24rem; }
figcaption { font-size: .9rem; margin-bottom: .3rem; }
svg { max-width: 100%; height: auto; }
"""
_REF, _CUR = "#4c72b0", "#dd8452"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _verdict(result: ColumnDrift) -> str:
    if result.drifted is None:
        return '<span class="untested">not tested</span>'
    if result.drifted:
        return '<span class="drift">drift</span>'
    return '<span class="stable">stable</span>'


def _summary_table(report: DriftReport) -> str:
    headers = [
        "column", "role", "kind", "test", "statistic", "p-value", "threshold", "distance",
        "distance threshold", "verdict", "ref nulls", "cur nulls", "note",
    ]  # fmt: skip
    rows = []
    for c in report.columns:
        cells = [
            f"<td>{escape(c.column)}</td>",
            f"<td>{escape(c.role)}</td>",
            f"<td>{escape(c.kind)}</td>",
            f"<td>{escape(c.test or '')}</td>",
            *(
                f'<td class="num">{escape(_fmt(v))}</td>'
                for v in (c.statistic, c.p_value, c.threshold, c.distance, c.distance_threshold)
            ),
            f"<td>{_verdict(c)}</td>",
            f'<td class="num">{c.ref_null_fraction:.1%}</td>',
            f'<td class="num">{c.cur_null_fraction:.1%}</td>',
            f"<td>{escape(c.note)}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _svg(figure: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    # text stays text (the page's fonts), not outlines: a tenth of the size
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    # keep only the <svg> element: the XML prolog and doctype do not belong inside HTML
    start = text.find("<svg")
    return re.sub(r"<!--.*?-->", "", text[start:], flags=re.S)


def _plot(result: ColumnDrift) -> str:
    from matplotlib.figure import Figure

    hist = result.histogram
    assert hist is not None
    figure = Figure(figsize=(4.6, 2.8))
    ax = figure.subplots()
    if "edges" in hist:
        edges = hist["edges"]
        centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        width = edges[1] - edges[0]
        ax.bar(centres, hist["reference"], width=width, color=_REF, alpha=0.55, label="reference")
        ax.bar(centres, hist["current"], width=width, color=_CUR, alpha=0.55, label="current")
        ax.set_xlabel(result.column)
    else:
        labels = hist["labels"]
        positions = range(len(labels))
        ax.bar([p - 0.2 for p in positions], hist["reference"], width=0.4, color=_REF,
               label="reference")  # fmt: skip
        ax.bar([p + 0.2 for p in positions], hist["current"], width=0.4, color=_CUR,
               label="current")  # fmt: skip
        ax.set_xticks(list(positions), [label[:18] for label in labels], rotation=60,
                      ha="right", fontsize=7)  # fmt: skip
    ax.set_ylabel("share of values")
    ax.legend(fontsize=7)
    figure.tight_layout()
    return _svg(figure)


def _plots(report: DriftReport) -> str:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return (
            "<p>Install matplotlib (<code>pip install 'loopml[monitor]'</code>) for the "
            "distribution plots.</p>"
        )
    figures = []
    for result in report.columns:
        if result.histogram is None:
            continue
        caption = (
            f"<b>{escape(result.column)}</b> — {_verdict(result)}"
            + (f" · {escape(result.test)}" if result.test else "")
            + (f" · statistic {escape(_fmt(result.statistic))}" if result.statistic else "")
        )
        figures.append(f"<figure><figcaption>{caption}</figcaption>{_plot(result)}</figure>")
    if not figures:
        return "<p>No column had values to plot.</p>"
    return f'<div class="grid">{"".join(figures)}</div>'


def render_html(report: DriftReport, title: str = "Data drift") -> str:
    """The page: the verdict, the per-column table, then reference-vs-current plots."""
    verdict = (
        '<span class="drift">DATASET DRIFT</span>'
        if report.dataset_drift
        else '<span class="stable">NO DATASET DRIFT</span>'
    )
    intro = (
        f"<p>Reference <code>{escape(report.reference)}</code> ({report.reference_rows:,} "
        f"rows) · current <code>{escape(report.current)}</code> ({report.current_rows:,} "
        f"rows)</p><p>{escape(report.summary())} · {verdict}</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{intro}<h2>Columns</h2>{_summary_table(report)}"
        f"<h2>Distributions: reference and current</h2>{_plots(report)}</body></html>\n"
    )
