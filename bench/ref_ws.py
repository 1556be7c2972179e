"""The ceiling reference: a bare websockets broadcast server with no storage, no auth and no
channel layer. A client connects to /?user=<id>&chats=<id,id,...> and sends
{"chat_id", "content"}; every member of that chat gets one pre-encoded frame {"content"}."""

import argparse
import asyncio
import json
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: dict[int, set[ServerConnection]] = defaultdict(set)


async def handler(ws: ServerConnection) -> None:
    query = parse_qs(urlsplit(ws.request.path).query)
    chats = [int(c) for c in query.get("chats", [""])[0].split(",") if c]
    for chat in chats:
        rooms[chat].add(ws)
    try:
        async for text in ws:
            frame = json.loads(text)
            encoded = json.dumps({"content": frame["content"], "chat_id": frame["chat_id"]})
            broadcast(rooms[frame["chat_id"]], encoded)
    except websockets.ConnectionClosed:
        pass
    finally:
        for chat in chats:
            rooms[chat].discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
