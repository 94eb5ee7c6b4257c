"""The table ``refresh-selectors`` prints: one row per field of each page type."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .refresh import RefreshReport

__all__ = ["render_report"]

_STYLE = {"ok": "green", "repaired": "yellow", "unrepaired": "bold red", "gone": "magenta"}
_COLUMNS = ("field", "old XPath", "status", "new XPath", "regex", "confidence", "pages",
            "pages that disagree")


def render_report(report: RefreshReport, *, write: bool) -> str:
    """Field, old XPath, status, new XPath and regex (or why not), confidence, pages
    agreeing, what each page that did not agree gave; then what was written, and a warning
    per field gone."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, highlight=False, force_terminal=False)
    console.print(f"known videos from the store: {report.known_videos}")
    for page in report.pages:
        table = Table(title=f"{page.page} ({page.version}, {page.samples} pages sampled)",
                      title_justify="left", show_lines=False)
        for column in _COLUMNS:
            table.add_column(column, overflow="fold")
        for r in page.repairs:
            new = r.new_xpath or (r.reason if r.status in ("unrepaired", "gone") else "")
            table.add_row(escape(r.field), escape(r.old_xpath),
                          f"[{_STYLE[r.status]}]{r.status}[/]", escape(new),
                          escape(r.new_regex or ""), f"{r.confidence:.2f}",
                          f"{r.pages_agreeing}/{r.pages_checked}",
                          escape("; ".join(r.disagreements)))
        console.print(table)
        for r in page.repairs:
            if r.status == "gone":
                console.print(f"warning: {page.page}.{r.field} is gone (optional, on no "
                              "sampled page): left out of the new version")
        if page.written:
            console.print(f"wrote {page.written}")
        elif any(r.status in ("repaired", "gone") for r in page.repairs) and not write:
            console.print("dry run: nothing written (use --write to save a new version)")
    return buffer.getvalue().rstrip()
