"""A small, self-contained HTML page of a validation report, readable without Great Expectations' data docs."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentgov.data.validation import ValidationReport

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
    "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f3f3}"
    ".pass{color:#11691a}.fail{color:#a40e0e}code{font-size:.9em}"
)


def write_html(report: ValidationReport) -> str:
    verdict = "passed" if report.passed else "failed"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Data validation: {escape(report.agent)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Data validation of {escape(report.agent)}: <span class='{verdict[:4]}'>{verdict}</span></h1>",
        f"<p>{escape(report.created_at)}</p>",
        "<table><tr><th>dataset</th><th>suite</th><th>rows</th><th>expectations</th><th>failed</th><th>result</th></tr>",
    ]
    for r in report.results:
        outcome = "passed" if r.passed else ("error" if r.error else "failed")
        parts.append(
            f"<tr><td><code>{escape(r.dataset)}</code></td><td><code>{escape(r.suite)}</code></td><td>{r.rows}</td>"
            f"<td>{r.evaluated}</td><td>{len(r.failed)}</td><td class='{'pass' if r.passed else 'fail'}'>{outcome}</td></tr>"
        )
    parts.append("</table>")
    for r in report.results:
        if r.error:
            parts.append(f"<h2>{escape(r.dataset)}</h2><p class='fail'>{escape(r.error)}</p>")
        if not r.failed:
            continue
        parts.append(f"<h2>{escape(r.dataset)}: failing expectations</h2>")
        parts.append("<table><tr><th>column</th><th>expectation</th><th>unexpected</th><th>examples</th><th>arguments</th></tr>")
        for f in r.failed:
            share = "" if f.unexpected_share is None else f"{f.unexpected_share:.2%}"
            arguments = ", ".join(f"{k}={v}" for k, v in f.kwargs.items() if k != "column")
            parts.append(
                f"<tr><td>{escape(f.column or '(table)')}</td><td><code>{escape(f.expectation)}</code></td><td>{share}</td>"
                f"<td>{escape(', '.join(f.examples))}</td><td><code>{escape(arguments[:300])}</code></td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
