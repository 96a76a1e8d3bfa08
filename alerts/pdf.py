"""HTML to PDF with WeasyPrint (a real renderer; it needs the system's Pango, as Debian ships it).

The packet and reports are rendered as the same HTML as their web pages (the chart is an inline
PNG), so the PDF shows the same picture. Only `data:` URLs are fetched: a hostile link in a
mention is never requested while rendering.
"""

from __future__ import annotations

import warnings
from pathlib import Path

#: WeasyPrint 66+ warns when the system lacks HarfBuzz's subsetting library (Debian's
#: libharfbuzz-subset0); it then embeds whole fonts instead of subsets. The PDF is the same.
_HARFBUZZ = "HarfBuzz-Subset will be required"


class PDFUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs are missing."""


def html_to_pdf(html: str, out: Path) -> Path:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_HARFBUZZ, category=DeprecationWarning)
        return _html_to_pdf(html, out)


def _html_to_pdf(html: str, out: Path) -> Path:
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: Pango not installed
        raise PDFUnavailable(
            f"cannot write {out.name}: WeasyPrint is not usable here ({exc}); "
            "install Pango (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
        ) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    # Only data: URLs (the inline chart) are fetched, never a link from a mention.
    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    HTML(string=html, url_fetcher=fetcher).write_pdf(out)
    return out
