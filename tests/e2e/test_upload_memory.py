"""Uploads on a real daphne (issue 18, point 1: streamed, never held whole in memory). A request body
reaches the application a chunk at a time from twisted's temporary file
(imsuite.daphne_tuning.StreamedBody) and Django spools it, and the file part, to disk, so the server's
peak memory grows by a small part of an upload; and what is stored is the body, byte for byte.
Without the streaming, one 40 MB upload grew the server by 42.6 MB; with Django's own
FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), each upload in flight held 2.5 MB more.

Memory matters the same on both legs, so these run on the embedded leg only."""

import asyncio
import hashlib
import http.client
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .test_backpressure import memory_kb, server_pid
from .test_ws import sign_up

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="memory bounds: checked on the embedded leg"
)

MB = 1024 * 1024
BOUNDARY = "e2e-upload-boundary"
LARGE = 40 * MB
LARGE_GROWTH_BOUND = 20 * MB  # the server's peak may grow this much for one 40 MB upload
IN_FLIGHT, EACH = 10, 4 * MB
IN_FLIGHT_GROWTH_BOUND = 10 * MB  # for ten 4 MB uploads at once: 1 MB each (Django's spool alone: 2.5)


def upload(base_url: str, token: str, content: bytes, name: str) -> tuple[int, dict[str, Any]]:
    """POST /api/uploads with one `file` part, the multipart body built by hand."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + content + f"\r\n--{BOUNDARY}--\r\n".encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(base_url).port, timeout=60)
    try:
        conn.request("POST", "/api/uploads", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def downloaded(base_url: str, path: str) -> tuple[int, int, str]:
    """GET a (signed) media path: the status, the size and the SHA-256 of what came back."""
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(base_url).port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        digest, size = hashlib.sha256(), 0
        while chunk := response.read(MB):
            digest.update(chunk)
            size += len(chunk)
        return response.status, size, digest.hexdigest()
    finally:
        conn.close()


def peak_growth_from_now(pid: int) -> Callable[[], int]:
    """Start the process's peak resident size (VmHWM) anew from its size now; the returned call
    gives how many bytes the peak has grown since."""
    before = memory_kb(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # Linux: VmHWM starts again from VmRSS
    return lambda: (memory_kb(pid, "VmHWM") - before) * 1024


async def test_a_large_upload_is_stored_whole_and_never_held_whole_in_memory(
    daphne_url: str, start_daphne: Callable[[dict[str, str]], str], server_env: dict[str, str], tmp_path: Path
) -> None:
    url = start_daphne({**server_env, "DATA_DIR": str(tmp_path), "UPLOAD_MAX_BYTES": str(64 * MB)})
    ann = await sign_up(url, "ann", "Ann")
    # The first upload loads what uploads need (the media app's code, its first temporary files).
    status, _ = await asyncio.to_thread(upload, url, ann.token, b"warm " * 40_000, "warm.bin")
    assert status == 201
    content = random.Random(18).randbytes(LARGE)
    growth = peak_growth_from_now(server_pid(url))
    status, attachment = await asyncio.to_thread(upload, url, ann.token, content, "big.bin")
    grown = growth()
    assert status == 201, attachment
    assert (attachment["kind"], attachment["name"], attachment["size"], attachment["mime"]) == (
        "file",
        "big.bin",
        LARGE,
        "application/octet-stream",
    )
    assert grown < LARGE_GROWTH_BOUND, f"the server grew by {grown / MB:.1f} MB"
    fetched = await asyncio.to_thread(downloaded, url, attachment["url"])
    assert fetched == (200, LARGE, hashlib.sha256(content).hexdigest())


async def test_uploads_in_flight_at_once_hold_about_a_megabyte_each_at_most(
    daphne_url: str, start_daphne: Callable[[dict[str, str]], str], server_env: dict[str, str], tmp_path: Path
) -> None:
    url = start_daphne({**server_env, "DATA_DIR": str(tmp_path)})  # its files go with the test
    people = [await sign_up(url, f"up{n}", f"Up {n}") for n in range(IN_FLIGHT)]
    status, _ = await asyncio.to_thread(upload, url, people[0].token, b"warm " * 40_000, "warm.bin")
    assert status == 201
    contents = [random.Random(n).randbytes(EACH) for n in range(IN_FLIGHT)]
    growth = peak_growth_from_now(server_pid(url))
    answers = await asyncio.gather(
        *(
            asyncio.to_thread(upload, url, person.token, content, f"part{n}.bin")
            for n, (person, content) in enumerate(zip(people, contents, strict=True))
        )
    )
    grown = growth()
    assert [(status, attachment["size"]) for status, attachment in answers] == [(201, EACH)] * IN_FLIGHT
    assert grown < IN_FLIGHT_GROWTH_BOUND, f"the server grew by {grown / MB:.1f} MB"
    for (_, attachment), content in zip(answers, contents, strict=True):
        fetched = await asyncio.to_thread(downloaded, url, attachment["url"])
        assert fetched == (200, EACH, hashlib.sha256(content).hexdigest())
