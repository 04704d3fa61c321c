"""The HTML page of ``loopml monitor report``: drift over time (the share, and a heatmap of
every feature's distance per window), the latest window's distributions against the
reference, data quality, performance with labels, business metrics and the actions taken.
One self-contained file; plots drawn with matplotlib and embedded as SVG."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from loopml.monitoring.html import _REF, _STYLE, _fmt, _plot, _svg
from loopml.monitoring.window import iso

if TYPE_CHECKING:
    from loopml.monitoring.history import MonitorReport

__all__ = ["render_report"]

_EXTRA_STYLE = """
.alert { color: #b00020; font-weight: 700; } .ok { color: #1b7f3b; font-weight: 700; }
.no_data, .failed { color: #777; }
figure.wide { width: 48rem; }
"""
_PERFORMANCE = ("rmse", "mae", "mape", "r2", "accuracy", "f1_macro", "precision_macro",
                "recall_macro")  # fmt: skip


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _figure(width: float = 7.5, height: float = 2.8) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _time_axis(ax: Any, report: MonitorReport | None = None) -> None:
    import matplotlib.dates as mdates

    if report is not None and report.results:
        # the windows shown, half a window either side (a single point gets a sane axis)
        half = report.monitor.window * 500
        ax.set_xlim(_when(report.results[0].window_start - half),
                    _when(report.results[-1].window_start + half))  # fmt: skip

    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _share_plot(report: MonitorReport) -> str:
    rows = [r for r in report.results if r.summary.get("drift")]
    if not rows:
        return "<p>No window had data to test yet.</p>"
    figure, ax = _figure()
    x = [_when(r.window_start) for r in rows]
    y = [r.summary["drift"]["share"] for r in rows]
    ax.plot(x, y, marker="o", color=_REF, label="drifted share of features")
    limit = float(rows[-1].summary["drift"].get("drift_share", 0.5))
    ax.axhline(limit, color="#b00020", linestyle="--", linewidth=1, label="dataset drift at")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share")
    ax.legend(fontsize=7)
    _time_axis(ax, report)
    figure.tight_layout()
    return _svg(figure)


def _heatmap(report: MonitorReport) -> str:
    import numpy as np

    series = report.drift_series()
    if not series:
        return ""
    names = list(series)
    grid = np.full((len(names), len(report.results)), np.nan)
    for i, name in enumerate(names):
        for j, cell in enumerate(series[name]):
            value = cell["value"]
            if value is not None and value != "inf":
                grid[i, j] = min(float(value), 1.0)
            elif value == "inf":
                grid[i, j] = 1.0
    figure, ax = _figure(7.5, 0.6 + 0.28 * len(names))
    shown = ax.imshow(grid, aspect="auto", cmap="Reds", vmin=0, vmax=max(0.3, np.nanmax(grid)
                      if np.isfinite(grid).any() else 0.3), interpolation="nearest")  # fmt: skip
    for i, name in enumerate(names):
        for j, cell in enumerate(series[name]):
            if cell["drifted"]:
                ax.text(j, i, "×", ha="center", va="center", fontsize=10, color="white",
                        fontweight="bold")  # fmt: skip
    ax.set_yticks(range(len(names)), [n[:24] for n in names], fontsize=7)
    labels = [iso(r.window_start)[5:16].replace("T", " ") for r in report.results]
    step = max(1, len(labels) // 8)
    ax.set_xticks(range(0, len(labels), step), labels[::step], fontsize=7, rotation=30,
                  ha="right")  # fmt: skip
    figure.colorbar(shown, ax=ax, label="distance (× = drifted)", fraction=0.04)
    figure.tight_layout()
    return _svg(figure)


def _distributions(report: MonitorReport) -> str:
    from loopml.monitoring.report import ColumnDrift

    latest = report.latest
    if latest is None:
        return "<p>No window had data yet.</p>"
    figures = []
    for c in report.columns.get(latest.window_start, []):
        histogram = c.detail.get("histogram")
        if not histogram:
            continue
        drift = ColumnDrift(
            c.column, c.role, c.kind, c.test, c.statistic, c.p_value, c.threshold, c.distance,
            c.distance_threshold, c.drifted, c.ref_count, c.cur_count, c.ref_nulls, c.cur_nulls,
            str(c.detail.get("basis", "")), c.note, {}, histogram,
        )  # fmt: skip
        verdict = "not tested" if c.drifted is None else "drift" if c.drifted else "stable"
        caption = f"<b>{escape(c.column)}</b> ({escape(c.role)}) — {verdict}"
        figures.append(f"<figure><figcaption>{caption}</figcaption>{_plot(drift)}</figure>")
    if not figures:
        return "<p>No column had values to plot.</p>"
    head = f"<p>Window {escape(iso(latest.window_start))} against the reference.</p>"
    return head + f'<div class="grid">{"".join(figures)}</div>'


def _quality(report: MonitorReport) -> str:
    rows = [r for r in report.results if r.summary.get("quality")]
    if not rows:
        return "<p>No window had data to check yet.</p>"
    figure, ax = _figure()
    x = [_when(r.window_start) for r in rows]
    width = (report.monitor.window / 86400) * 0.4
    ax.bar(x, [r.summary["quality"]["errors"] for r in rows], width=width, color="#b00020",
           label="errors")  # fmt: skip
    ax.bar(x, [r.summary["quality"]["warnings"] for r in rows], width=width, color="#dd8452",
           bottom=[r.summary["quality"]["errors"] for r in rows], label="warnings")  # fmt: skip
    ax.set_ylabel("anomalies")
    ax.legend(fontsize=7)
    _time_axis(ax, report)
    figure.tight_layout()
    anomalies = rows[-1].summary["quality"].get("anomalies", [])
    table = _table(
        ["column", "kind", "severity", "message"],
        [[a.get("column") or "", a["kind"], a["severity"], a["message"]] for a in anomalies],
    ) if anomalies else "<p>The latest window has no quality anomalies.</p>"  # fmt: skip
    return _svg(figure) + f"<h3>Latest window</h3>{table}"


def _series_plot(report: MonitorReport, pick: Any, names: list[str], ylabel: str) -> str:
    figure, ax = _figure()
    for name in names:
        points = [(_when(r.window_start), pick(r, name)) for r in report.results]
        points = [(x, y) for x, y in points if y is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    _time_axis(ax, report)
    figure.tight_layout()
    return _svg(figure)


def _performance(report: MonitorReport) -> str:
    def metric(r: Any, name: str) -> float | None:
        value = r.summary.get("performance", {}).get("metrics", {}).get(name)
        return None if value is None else float(value)

    seen = {m for r in report.results for m in r.summary.get("performance", {}).get("metrics", {})}
    names = [m for m in _PERFORMANCE if m in seen][:4]
    if not names:
        return (
            "<p>No labels have arrived for these windows yet (<code>loopml labels add</code>).</p>"
        )
    labeled = [r.summary.get("performance", {}).get("labeled", 0) for r in report.results]
    # one plot per metric: their scales differ (RMSE in the target's units, R² below 1)
    plots = "".join(
        f'<figure class="wide"><figcaption><b>{escape(name)}</b></figcaption>'
        f"{_series_plot(report, metric, [name], name)}</figure>"
        for name in names
    )
    return f'<div class="grid">{plots}</div>' + (
        f"<p>Labeled rows per window: {', '.join(str(n) for n in labeled)}.</p>"
    )


def _business(report: MonitorReport) -> str:
    def mean(r: Any, name: str) -> float | None:
        found = r.summary.get("business", {}).get(name)
        return None if found is None else float(found["mean"])

    names = sorted({n for r in report.results for n in r.summary.get("business", {})})
    if not names:
        return "<p>No business metrics were logged for these windows.</p>"
    return _series_plot(report, mean, names, "mean per window")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _windows(report: MonitorReport) -> str:
    rows = []
    for w in reversed(report.window_rows()):
        perf = ", ".join(f"{k} {v:.4g}" for k, v in report.headline(w["performance"], 3))
        business = ", ".join(f"{k} {v['mean']:.4g}" for k, v in w["business"].items())
        status = f'<span class="{escape(w["status"])}">{escape(w["status"])}</span>'
        cells = [
            escape(w["window_start"]), status, f"{w['rows']:,}",
            escape(_fmt(w["drift_share"])), escape(", ".join(w["drifted_columns"])),
            escape(_fmt(w["quality_errors"])), escape(perf), escape(business),
            escape(", ".join(w["fired"])),
            escape(", ".join(f"{a['action'].split(':')[0]} {a['status']}" for a in w["actions"])),
        ]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    headers = ["window", "status", "rows", "drift share", "drifted", "quality errors",
               "performance", "business", "fired", "actions"]  # fmt: skip
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _actions(report: MonitorReport) -> str:
    if not report.actions:
        return "<p>No action was taken.</p>"
    rows = []
    for a in report.actions:
        d = a.detail
        what = ", ".join(
            f"{k} {d[k]}" for k in ("pipeline_run", "dataset", "status_code", "error", "policy")
            if d.get(k) not in (None, "")
        )  # fmt: skip
        if d.get("model_versions"):
            what += f", model versions {', '.join(d['model_versions'])}"
        rows.append([iso(a.window_start), a.action, a.status, iso(a.time), what])
    return _table(["window", "action", "status", "when", "detail"], rows)


def render_report(report: MonitorReport) -> str:
    """The page (see the module)."""
    m = report.monitor
    title = f"Monitor {m.name}"
    intro = (
        f"<p>Deployment <code>{escape(m.deployment)}</code> · reference "
        f"<code>{escape(m.reference)}</code> · windows of {m.window:,} s · "
        f"{len(report.results)} window(s) shown</p>"
    )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        plots = ("<p>Install matplotlib (<code>pip install 'loopml[monitor]'</code>) for the "
                 "plots.</p>")  # fmt: skip
        sections = [("Windows", _windows(report)), ("Plots", plots),
                    ("Actions", _actions(report))]  # fmt: skip
    else:
        sections = [
            ("Windows", _windows(report)),
            ("Drift over time", _share_plot(report) + _heatmap(report)),
            ("Distributions: reference and the latest window", _distributions(report)),
            ("Data quality", _quality(report)),
            ("Performance (with labels)", _performance(report)),
            ("Business metrics", _business(report)),
            ("Actions", _actions(report)),
        ]
    body = "".join(f"<h2>{escape(h)}</h2>{content}" for h, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}{_EXTRA_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{intro}{body}</body></html>\n"
    )
