"""The HTML page of a validation report: self-contained, every value escaped."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loopml.data.validation import ValidationReport

__all__ = ["render_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }
th { background: #f4f4f4; }
.error { color: #b00020; font-weight: 600; }
.warning { color: #a06000; font-weight: 600; }
.ok { color: #1b7f3b; font-weight: 700; }
.failed { color: #b00020; font-weight: 700; }
code { background: #f4f4f4; padding: 0 .2rem; }
"""


def render_html(report: ValidationReport, title: str = "Data validation") -> str:
    """A page with the summary (rows, errors, warnings, verdict) and the anomaly table."""
    verdict = '<span class="ok">OK</span>' if report.ok else '<span class="failed">FAILED</span>'
    rows = "\n".join(
        "<tr>"
        f'<td class="{escape(a.severity)}">{escape(a.severity)}</td>'
        f"<td>{escape(a.column or '')}</td>"
        f"<td><code>{escape(a.kind)}</code></td>"
        f"<td>{escape(a.message)}</td>"
        f"<td>{escape(', '.join(a.examples))}</td>"
        "</tr>"
        for a in report.anomalies
    )
    body = (
        "<table><thead><tr><th>severity</th><th>column</th><th>anomaly</th><th>message</th>"
        f"<th>examples</th></tr></thead><tbody>{rows}</tbody></table>"
        if report.anomalies
        else "<p>No anomalies.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<p>{report.rows:,} rows · {len(report.errors)} errors · "
        f"{len(report.warnings)} warnings · {verdict}</p>{body}</body></html>\n"
    )
