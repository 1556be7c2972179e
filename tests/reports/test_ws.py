"""The report events over a real client WebSocket (imsuite.asgi): the exact frames the moderators,
the group's owner and the reporter get, and that nobody else gets any."""

from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async

from reports.services import report_create, report_resolve
from tests.chats.test_ws import fresh, ws  # noqa: F401  (the WebSocket fixtures)
from tests.reports.test_services import summary

pytestmark = pytest.mark.django_db(transaction=True)
call = sync_to_async


async def test_report_frames(ws, world: SimpleNamespace) -> None:  # noqa: F811
    w = world
    mod, owner, admin, offender, reporter, stranger = [
        await ws.connect(user) for user in (w.moderator, w.alice, w.carol, w.bob, w.dave, w.erin)
    ]
    report = await call(report_create)(actor=w.dave, kind="message", target_id=w.message.pk, reason="spam")
    created = {"type": "report.created", "payload": {"report": await call(summary)(report)}}
    for device in (mod, owner, admin):
        assert await device.frame() == created
    for device in (offender, reporter, stranger):
        await device.nothing()

    await call(report_resolve)(actor=w.alice, group_id=w.gid, report_id=report.pk, action="dismiss")
    graces, daves = await call(summary)(w.report), await call(summary)(report)
    assert (graces["status"], daves["status"], daves["outcome"]) == ("dismissed", "dismissed", "dismiss")

    def resolved(data: dict, mine: bool) -> dict:
        return {"type": "report.resolved", "payload": {"report": data, "mine": mine}}

    for device in (mod, owner, admin):
        assert await device.frames(2) == [resolved(graces, False), resolved(daves, False)]
    assert await reporter.frame() == resolved(daves, True)
    for device in (mod, owner, admin, offender, reporter, stranger):
        await device.nothing()
