"""Leadership's regular reading: the weekly quiet-period summary, the monthly report and the
span follow-up (`tocsin report weekly|monthly|span`). Stable JSON: docs/reports.md.

- `build`: periods (ISO week, month, span in the team's zone) and the report data; files.
- `period`: one topic's numbers, coverage from `source_polls`, the summary sentence.
- `render`: page, text, e-mail parts (charts inline as PNG).
- `send`: notification rows through the normal outbox (the weekly and monthly jobs).
"""

from alerts.reports.build import (
    build_monthly,
    build_span,
    build_weekly,
    public_json,
    replay_reports,
    write_replay_reports,
    write_report,
    write_weekly,
)
from alerts.reports.send import send_monthly, send_report, send_weekly

__all__ = [
    "build_monthly",
    "build_span",
    "build_weekly",
    "public_json",
    "replay_reports",
    "send_monthly",
    "send_report",
    "send_weekly",
    "write_replay_reports",
    "write_report",
    "write_weekly",
]
