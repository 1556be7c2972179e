"""Events routed in Redis (imsuite.event_routes, imsuite.routed_hub): a process receives only
the events of the users it serves, message changes in seq order, from the moment a user's
connection opens there until the user's last connection there closes."""

import asyncio
import secrets
from typing import Any

import pytest
from django.conf import settings

from imsuite import event_routes, redis_nodes
from imsuite.events import DomainEvent
from imsuite.routed_hub import RoutedHub
from tests.redis_cluster import redis_cluster  # noqa: F401  (a fixture)

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="routing lives in Redis (the second leg)")


@pytest.fixture(autouse=True, params=["server", "cluster"])
def store(request: pytest.FixtureRequest, settings: Any) -> None:
    """The routes in the leg's Redis server, then in a real three-node Redis Cluster
    (tests.redis_cluster); under keys of this test alone, so nothing another test (or process)
    routed is in the way."""
    settings.REDIS_PREFIX = "routes-" + secrets.token_hex(4)
    if request.param == "cluster":
        settings.REDIS_CLUSTER = True
        settings.REDIS_URL = request.getfixturevalue("redis_cluster")


def hub_event(seq: int | None, audience: list[int] | None, name: str = "message.new") -> dict[str, Any]:
    return {"event": name, "data": {"seq": seq}, "seq": seq, "audience": audience}


def event(seq: int | None, audience: list[int] | None, name: str = "message.new") -> event_routes.Routed:
    """As a committed DomainEvent goes to its route (a name outside HUB_EVENTS carries no seq)."""
    return DomainEvent(name, frozenset(audience or ()), {"seq": seq}, everyone=audience is None).routed


async def stream(process: str) -> list[tuple[str | None, int | None]]:
    _, events = await event_routes.read(process, "0-0", 0)
    return [(e["event"], e["seq"]) for e in events]


async def test_each_process_receives_only_its_users_events_and_broadcasts():
    await event_routes.set_routes("a", [1, 2], [])
    await event_routes.set_routes("b", [3], [])
    await event_routes.publish([event(1, [1, 2]), event(None, [3], "presence"), event(2, [2, 9])])
    await event_routes.publish([event(None, None, "broadcast")])
    assert await stream("a") == [("message.new", 1), ("message.new", 2), ("broadcast", None)]
    assert await stream("b") == [("presence", None), ("broadcast", None)]


async def test_a_user_served_by_two_processes_gets_one_copy_on_each():
    await event_routes.set_routes("a", [1], [])
    await event_routes.set_routes("b", [1, 1], [])
    await event_routes.publish([event(1, [1])])
    assert await stream("a") == await stream("b") == [("message.new", 1)]
    routes = await redis_nodes.async_client().hget(f"{event_routes.tag()}:routes", "1")
    assert routes == b"a b"


async def test_a_seq_ahead_of_its_predecessor_waits_for_it():
    await event_routes.set_routes("a", [1], [])
    assert await event_routes.publish([event(1, [1])]) == event_routes.Position(1, 0)
    assert await event_routes.publish([event(3, [1]), event(4, [1])]) == event_routes.Position(1, 3)
    assert await stream("a") == [("message.new", 1)]
    assert await event_routes.publish([event(2, [9])]) == event_routes.Position(4, 0)  # not a's
    assert await stream("a") == [("message.new", 1), ("message.new", 3), ("message.new", 4)]


async def test_the_first_change_after_a_fresh_start_goes_out_whatever_its_seq():
    """A fresh Redis (or a restarted sequencer) starts from the first change published, whatever
    was published before it without a seq."""
    await event_routes.set_routes("a", [1], [])
    assert await event_routes.publish([event(None, [1], "presence")]) == event_routes.Position(-1, 0)
    assert await event_routes.publish([event(7, [1])]) == event_routes.Position(7, 0)
    assert await stream("a") == [("presence", None), ("message.new", 7)]


async def test_a_seq_already_out_is_not_sent_again():
    await event_routes.set_routes("a", [1], [])
    await event_routes.publish([event(1, [1]), event(2, [1])])
    await event_routes.publish([event(2, [1]), event(1, [1])])
    assert await stream("a") == [("message.new", 1), ("message.new", 2)]


async def test_a_fill_accounts_for_seqs_that_were_superseded():
    """A hole the database has nothing for (a later change superseded it) is closed by the
    fill's floor, and what waited behind it goes out."""
    await event_routes.set_routes("a", [1], [])
    await event_routes.publish([event(1, [1])])
    await event_routes.publish([event(4, [1])])
    assert await event_routes.publish([event(2, [1])], floor=3) == event_routes.Position(4, 0)
    assert await stream("a") == [("message.new", 1), ("message.new", 2), ("message.new", 4)]


async def test_a_removed_route_and_a_dead_process_get_nothing_more(monkeypatch):
    await event_routes.set_routes("a", [1, 2], [])
    await event_routes.set_routes("b", [1], [])
    await event_routes.set_routes("a", [], [2])
    await event_routes.publish([event(1, [1, 2])])
    assert await stream("a") == await stream("b") == [("message.new", 1)]

    monkeypatch.setattr(event_routes, "PROCESS_EXPIRY_SECONDS", -1)  # every heartbeat is old now
    await event_routes.publish([event(2, [1])])
    assert await stream("a") == [("message.new", 1)]
    assert await event_routes.clear() == 0  # both dead: their routes and streams are removed
    client = redis_nodes.async_client()
    assert await client.hgetall(f"{event_routes.tag()}:routes") == {}
    assert await client.exists(event_routes.stream_key("a"), event_routes.stream_key("b")) == 0


async def test_a_graceful_stop_removes_the_process_routes_and_stream():
    await event_routes.set_routes("a", [1, 2], [])
    await event_routes.set_routes("b", [2], [])
    await event_routes.publish([event(1, [1, 2])])
    assert await event_routes.clear("a") == 0
    client = redis_nodes.async_client()
    routes = await client.hgetall(f"{event_routes.tag()}:routes")
    assert routes == {b"2": b"b"}
    assert await client.zrange(f"{event_routes.tag()}:procs", 0, -1) == [b"b"]
    assert await client.exists(event_routes.stream_key("a")) == 0


class Recorder:
    def __init__(self) -> None:
        self.got: list[tuple[str, int | None]] = []
        self.arrived = asyncio.Event()

    async def hub_deliver(self, name: str, data: dict[str, Any], frames: dict[Any, str]) -> None:
        self.got.append((name, data["seq"]))
        self.arrived.set()

    async def hub_notify(self, name: str, data: dict[str, Any]) -> None:
        self.got.append((name, None))
        self.arrived.set()


class CountingHub(RoutedHub):
    """Counts every event its stream brings, whoever it is for."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[dict[str, Any]] = []

    async def take(self, events: list[dict[str, Any]]) -> None:
        self.taken.extend(events)
        await super().take(events)


async def started(hub: RoutedHub) -> RoutedHub:
    hub.position = 0
    hub.task = asyncio.ensure_future(hub.run())
    await asyncio.wait_for(hub.started.wait(), 5)
    return hub


async def until(condition: Any) -> None:
    """Wait for a condition the hubs bring about (bounded)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never came")


@pytest.fixture
async def hubs() -> Any:
    made = [await started(CountingHub()), await started(CountingHub())]
    yield made
    for hub in made:
        await hub.stop()


async def test_a_process_spends_nothing_on_chats_it_does_not_serve(hubs):
    """Alice and Carol chat on process A; process B serves Bob: B's hub takes no event of theirs."""
    a, b = hubs
    alice, bob = Recorder(), Recorder()
    await a.route(1)
    a.attach(1, alice)
    await b.route(2)
    b.attach(2, bob)
    for seq in (1, 2, 3):
        await event_routes.publish([event(seq, [1, 3])])
    await until(lambda: len(alice.got) == 3)
    await event_routes.publish([event(4, [2])])
    await until(lambda: bob.got)
    assert alice.got == [("message.new", 1), ("message.new", 2), ("message.new", 3)]
    assert bob.got == [("message.new", 4)]
    assert [e["seq"] for e in b.taken] == [4]  # nothing of Alice's chat reached process B


async def test_a_connection_opening_receives_at_once_and_closing_stops_it(hubs):
    _, b = hubs
    carol = Recorder()
    await event_routes.publish([event(1, [3])])  # before Carol's connection: not for process B
    await b.route(3)
    b.attach(3, carol)
    await event_routes.publish([event(2, [3])])  # the first change after the connection opened
    await until(lambda: carol.got)
    assert carol.got == [("message.new", 2)]
    assert [e["seq"] for e in b.taken] == [2]

    b.detach(3, carol)
    await b._unregister_idle()  # what the heartbeat does for users with no connection left
    await event_routes.publish([event(3, [3])])
    await event_routes.publish([event(None, None, "broadcast")])  # a broadcast still reaches it
    await until(lambda: len(b.taken) == 2)
    assert [(e["event"], e["seq"]) for e in b.taken] == [("message.new", 2), ("broadcast", None)]


async def test_a_user_routed_but_not_yet_attached_is_not_idle(hubs):
    """The heartbeat's look for idle users can run after a registration has finished but before the
    connection that asked for it has attached (its coroutine resumes a loop turn or two later): the
    user stays routed (in a restart's reconnection storm, such connections heard nothing more)."""
    _, b = hubs
    dave = Recorder()
    joining = asyncio.ensure_future(b.route(4))
    await asyncio.sleep(0)  # route() has queued user 4 and waits for the registration
    await b.registering  # registered; route() resumes only after this test's next await
    assert not joining.done()
    await b._unregister_idle()
    routes = await redis_nodes.async_client().hget(f"{event_routes.tag()}:routes", "4")
    assert routes == b.process.encode()
    await joining
    b.attach(4, dave)
    await event_routes.publish([event(1, [4])])
    await until(lambda: dave.got)
    assert dave.got == [("message.new", 1)]

    b.detach(4, dave)
    await b._unregister_idle()  # with its connection gone, the user is idle
    assert await redis_nodes.async_client().hget(f"{event_routes.tag()}:routes", "4") is None


async def test_a_counter_read_while_the_hub_moves_on_is_no_reset(hubs, monkeypatch, caplog):
    """The counter is read in a database thread while the hub goes on handing out changes: an
    answer below where the hub got to meanwhile, but not below where it was when it asked, is
    stale, not a reset (taken for one, it emptied the sequencer and rewound the hub under load)."""
    hub = hubs[0]
    hub.position = 10
    loop = asyncio.get_running_loop()

    def counter_while_changes_arrive() -> int:
        asyncio.run_coroutine_threadsafe(hub.take([hub_event(11, [1]), hub_event(12, [1])]), loop).result()
        return 10  # the counter as it was when asked

    monkeypatch.setattr("imsuite.hub._current_seq", counter_while_changes_arrive)
    before = await event_routes.position()
    assert await hub.look_at_sequencer(None) == (before, 10)
    assert hub.position == 12
    assert await event_routes.position() == before  # the sequencer was not started again
    assert "went back" not in caplog.text
