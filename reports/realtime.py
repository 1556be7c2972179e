"""The client frames of report events (chats.realtime takes them into its table)."""

from typing import Any


def _created(data: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    return {"report": data["report"]}


def _resolved(data: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    """`mine`: whether the viewer made the report (a watcher is never told who did)."""
    return {"report": data["report"], "mine": data["reporter_id"] == viewer_id}


RENDERERS = {
    "report.created": ("report.created", _created),
    "report.resolved": ("report.resolved", _resolved),
}
