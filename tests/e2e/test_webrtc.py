"""Two real WebRTC peers (aiortc) call each other through the real server: each is signed in as its
own user over its own WebSocket to daphne on 127.0.0.1, and every piece of signalling (offer, answer,
ICE candidates) reaches the other peer only in the server's frames. The peers then open a data
channel and pass messages across it, directly; the caller hangs up and both hear call.end.

The caller's candidates travel inside its offer SDP (aiortc gathers before it offers); the callee
trickles its candidates through call.ice instead (its answer SDP goes without them), and the caller
adds the relayed ones to its ICE agent, as a browser would. (ICE could still come up without them,
the caller learning the callee's address from its checks; the test shows the relayed candidates in
use, not that they were indispensable.) ICE gathers on loopback only.
"""

import asyncio
import re
from collections.abc import Awaitable
from typing import Any

import aioice.ice
import pytest
from aiortc import RTCConfiguration, RTCDataChannel, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from tests.e2e.conftest import recv_frame, send_frame
from tests.e2e.test_ws import (  # no_server_tracebacks: autouse, daphne logs no traceback
    Opener,
    Person,
    check,
    expect_connect,
    expect_presence,
    http,
    iso,
    no_server_tracebacks,  # noqa: F401
    nothing_pending,
    two_friends,
)

RTC_TIMEOUT_SECONDS = 20.0
LOOPBACK = "127.0.0.1"
# The browsers' way to say "no more candidates" in a trickled candidate.
END_OF_CANDIDATES = {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice leaves loopback out of its host candidates; here it is the only one, so the peers too
    meet on 127.0.0.1 (and no STUN server is asked: iceServers=[])."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [LOOPBACK])


async def within(awaitable: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(awaitable, RTC_TIMEOUT_SECONDS)


def candidate_lines(sdp: str) -> list[str]:
    return [line.removeprefix("a=") for line in sdp.split("\r\n") if line.startswith("a=candidate:")]


def without_candidates(sdp: str) -> str:
    lines = sdp.split("\r\n")
    return "\r\n".join(line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates")))


def rtc_candidate(candidate: dict[str, Any]) -> RTCIceCandidate | None:
    """A candidate as call.ice carries it (browser style), for aiortc; None at the end of them."""
    if not candidate["candidate"]:
        return None
    rtc = candidate_from_sdp(candidate["candidate"].removeprefix("candidate:"))
    rtc.sdpMid, rtc.sdpMLineIndex = candidate["sdpMid"], candidate["sdpMLineIndex"]
    return rtc


async def signed_in(daphne_url: str, ws_clients: Opener, person: Person) -> Any:
    ws = await ws_clients(daphne_url, query=f"token={person.token}")
    await expect_connect(ws, person, last_seq=0)
    return ws


async def test_two_webrtc_peers_connect_through_the_server_and_talk(
    daphne_url: str, ws_clients: Opener
) -> None:
    ann, ben, _chat_id = await two_friends(daphne_url)
    ann_ws = await signed_in(daphne_url, ws_clients, ann)
    ben_ws = await signed_in(daphne_url, ws_clients, ben)
    await expect_presence(ann_ws, ben, True)

    config = RTCConfiguration(iceServers=[])
    caller, callee = RTCPeerConnection(config), RTCPeerConnection(config)
    try:
        # Ann's side: a data channel, an offer with every candidate gathered.
        channel = caller.createDataChannel("chat")
        caller_open = asyncio.Event()
        channel.on("open", caller_open.set)
        to_ann: asyncio.Queue[str] = asyncio.Queue()
        channel.on("message", to_ann.put_nowait)
        # Ben's side: the channel Ann opens arrives by itself.
        incoming: asyncio.Future[RTCDataChannel] = asyncio.get_running_loop().create_future()
        to_ben: asyncio.Queue[str] = asyncio.Queue()

        @callee.on("datachannel")
        def on_datachannel(remote: RTCDataChannel) -> None:
            remote.on("message", to_ben.put_nowait)
            incoming.set_result(remote)

        await within(caller.setLocalDescription(await caller.createOffer()))
        assert caller.iceGatheringState == "complete"
        offer_sdp = caller.localDescription.sdp
        assert [line.split()[4] for line in candidate_lines(offer_sdp)] == [LOOPBACK]
        await send_frame(
            ann_ws,
            "call.offer",
            {"to_user": ben.id, "call_type": "audio", "sdp": offer_sdp, "ice_candidates": []},
        )

        status = await recv_frame(ann_ws)
        call_id = status.get("payload", {}).get("call_id")
        assert isinstance(call_id, str) and re.fullmatch(r"call_\w+", call_id), status
        check(status, "call.status", {"call_id": call_id, "status": "ringing", "to_user": ben.id})

        # Ben hears the offer from the server and answers from what the frame says.
        offer = await recv_frame(ben_ws)
        check(
            offer,
            "call.offer",
            {
                "call_id": call_id,
                "from_user": ann.id,
                "to_user": ben.id,
                "call_type": "audio",
                "sdp": offer_sdp,
                "ice_candidates": [],
                "created_at": iso(offer["payload"].get("created_at")),
            },
        )
        await within(callee.setRemoteDescription(RTCSessionDescription(offer["payload"]["sdp"], "offer")))
        await within(callee.setLocalDescription(await callee.createAnswer()))
        full_answer = callee.localDescription.sdp
        assert full_answer.count("\r\nm=") == 1 and "\r\na=mid:0\r\n" in full_answer  # one m-line: mid 0
        answer_sdp = without_candidates(full_answer)
        trickled = [
            {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0} for line in candidate_lines(full_answer)
        ]
        assert [c["candidate"].split()[4] for c in trickled] == [LOOPBACK]
        await send_frame(ben_ws, "call.answer", {"call_id": call_id, "sdp": answer_sdp, "ice_candidates": []})
        for candidate in [*trickled, END_OF_CANDIDATES]:
            await send_frame(ben_ws, "call.ice", {"call_id": call_id, "ice_candidate": candidate})

        # Ann gets the answer, then Ben's candidates, all from the server.
        answer = await recv_frame(ann_ws)
        check(
            answer,
            "call.answer",
            {
                "call_id": call_id,
                "from_user": ben.id,
                "to_user": ann.id,
                "sdp": answer_sdp,
                "ice_candidates": [],
                "answered_at": iso(answer["payload"].get("answered_at")),
            },
        )
        await within(caller.setRemoteDescription(RTCSessionDescription(answer["payload"]["sdp"], "answer")))
        for candidate in [*trickled, END_OF_CANDIDATES]:
            relayed = await recv_frame(ann_ws)
            payload = {"call_id": call_id, "from_user": ben.id, "to_user": ann.id, "ice_candidate": candidate}
            check(relayed, "call.ice", payload)
            await within(caller.addIceCandidate(rtc_candidate(relayed["payload"]["ice_candidate"])))

        ice = caller.sctp.transport.transport
        assert [(c.ip, c.port) for c in ice.getRemoteCandidates()] == [
            (rtc.ip, rtc.port) for rtc in map(rtc_candidate, trickled)
        ]

        # The peers connect to each other and talk over the data channel, both ways.
        await within(caller_open.wait())
        remote = await within(incoming)
        assert (remote.label, caller.connectionState, callee.connectionState) == (
            "chat",
            "connected",
            "connected",
        )
        channel.send("Hello Ben, this is Ann over WebRTC")
        assert await within(to_ben.get()) == "Hello Ben, this is Ann over WebRTC"
        remote.send("Hi Ann, Ben here")
        assert await within(to_ann.get()) == "Hi Ann, Ben here"
        await nothing_pending(ann_ws, ben_ws)

        # Ann hangs up: both hear the same call.end, with a whole number of seconds.
        await send_frame(ann_ws, "call.end", {"call_id": call_id, "reason": "user_hangup"})
        ann_end, ben_end = await recv_frame(ann_ws), await recv_frame(ben_ws)
        duration = ann_end.get("payload", {}).get("duration")
        assert type(duration) is int and duration >= 0, ann_end
        ended = {
            "call_id": call_id,
            "from_user": ann.id,
            "to_user": ben.id,
            "reason": "user_hangup",
            "duration": duration,
            "ended_at": iso(ann_end["payload"].get("ended_at")),
        }
        check(ann_end, "call.end", ended)
        check(ben_end, "call.end", ended)
        await nothing_pending(ann_ws, ben_ws)
    finally:
        await within(caller.close())
        await within(callee.close())

    history = await http(daphne_url, "GET", "/api/calls", token=ann.token, expect=200)
    [entry] = history["results"]
    assert (entry["call_id"], entry["status"], entry["direction"], entry["duration"]) == (
        call_id,
        "answered",
        "outgoing",
        duration,
    )
