"""Media in the web client, in Chromium against the real server: Ann pastes an image and records a
voice message (Chromium's fake microphone plays a beep); Ben, on a phone, sees the thumbnail, opens
the full image and plays the recording. Also: an upload's progress and its cancel, a refused upload,
a dropped file shown as a card, an expired link refreshed, a video inline, and holding the mic
button to record.
Embedded leg only (slow), like the other browser tests of one feature."""

import base64
import io
import os
import re
from typing import Any

from asgiref.sync import sync_to_async
from PIL import Image
from playwright.async_api import Locator, Page, Route, expect

from chats.models import Message
from media.models import Attachment
from tests.e2e import test_browser
from tests.e2e.browser import (
    PHONE,
    WEB_CLIENT_MODULE,
    Account,
    acknowledged,
    befriend,
    messages,
    open_chat,
    shot,
    sign_in,
    sign_up,
)

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

PHOTO_SIZE = (1200, 800)
THUMB_BOX = (280, 187)  # the photo scaled into the client's 280 px thumbnail box
CAPTION = "The view from the hut"
NOTES = "<b>notes <img src=x onerror=window.__xss=1>.txt"  # no slash: that would make it a path
PASTE = """(input, b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], "image.png", { type: "image/png" }));
  input.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""
SLOW_UPLOAD = 256 * 1024  # bytes a second while an upload is to be cancelled midway
BIG_FILE = 4 * SLOW_UPLOAD
LOADED = "img => img.complete && img.naturalWidth > 0"
# Ten frames of a canvas recorded as WebM by the page, pasted as a file.
PASTE_VIDEO = """async (input) => {
  const canvas = Object.assign(document.createElement("canvas"), { width: 160, height: 120 });
  const paint = canvas.getContext("2d");
  const recorder = new MediaRecorder(canvas.captureStream(), { mimeType: "video/webm" });
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  const stopped = new Promise((resolve) => (recorder.onstop = resolve));
  recorder.start();
  for (let frame = 0; frame < 10; frame++) {
    paint.fillStyle = `hsl(${frame * 36} 80% 50%)`;
    paint.fillRect(0, 0, 160, 120);
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  recorder.stop();
  await stopped;
  const data = new DataTransfer();
  data.items.add(new File(chunks, "clip.webm", { type: "video/webm" }));
  input.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""
# A drag of one file over the chat (the first call makes it), then its drop.
DRAG = """(view, { type, name, text }) => {
  if (name) {
    window.dragged = new DataTransfer();
    window.dragged.items.add(new File([text], name, { type: "text/plain" }));
  }
  view.dispatchEvent(new DragEvent(type, { dataTransfer: window.dragged, bubbles: true, cancelable: true }));
}"""
EXPIRED = {
    "error_code": "PERMISSION_DENIED",
    "message": "This link has expired.",
    "details": {"reason": "link_expired"},
}


def photo_png() -> str:
    """A PHOTO_SIZE PNG (a gradient, so it is not a trivial file), base64-encoded."""
    width, height = PHOTO_SIZE
    image = Image.linear_gradient("L").resize(PHOTO_SIZE).convert("RGB")
    image.putpixel((width - 1, height - 1), (255, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


async def friends_on_desktop_and_phone(open_page: Any, base_url: str) -> tuple[Account, Account, Page, Page]:
    """Ann on a desktop and Ben on a phone, friends, each with their private chat open."""
    ann, ben = await sign_up(base_url, "ann", "Ann"), await sign_up(base_url, "ben", "Ben")
    await befriend(base_url, ann, ben)
    ann_page, ben_page = await open_page("Ann"), await open_page("Ben (phone)", PHONE)
    for page, account, peer in ((ann_page, ann, "Ben"), (ben_page, ben, "Ann")):
        await sign_in(page, base_url, account)
        await open_chat(page, peer)
    return ann, ben, ann_page, ben_page


def chat_rows(ann: Account) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Ann's messages: (type, content, [(attachment kind, mime)]), oldest first."""
    rows = []
    for message in Message.objects.filter(sender_id=ann.id).order_by("id"):
        attached = Attachment.objects.filter(message=message).order_by("id")
        rows.append((message.message_type, message.content, [(a.kind, a.mime) for a in attached]))
    return rows


async def wait_loaded(image: Locator) -> None:
    await image.page.wait_for_function(LOADED, arg=await image.element_handle())


async def test_a_pasted_image_and_a_voice_message(open_page: Any, daphne_url: str) -> None:
    ann, _ben, ann_page, ben_page = await friends_on_desktop_and_phone(open_page, daphne_url)

    # Ann pastes a photo into the composer: it uploads into the tray, then goes with her caption.
    composer = ann_page.get_by_test_id("composer-input")
    await composer.fill(CAPTION)
    await composer.evaluate(PASTE, photo_png())
    upload = ann_page.get_by_test_id("upload-tray").get_by_test_id("upload")
    await expect(upload).to_have_count(1)
    await expect(upload).to_have_attribute("data-status", "ready")
    await expect(upload.get_by_test_id("upload-progress")).to_have_js_property("value", 1)
    await shot(ann_page, "20-pasted-image-tray")
    await composer.press("Enter")
    await acknowledged(ann_page, 1)
    await expect(ann_page.get_by_test_id("upload-tray")).to_be_hidden()
    await expect(composer).to_have_value("")

    # She records a few seconds (the fake microphone beeps) and sends it.
    await ann_page.get_by_test_id("mic-button").click()
    await expect(ann_page.get_by_test_id("recorder")).to_be_visible()
    await expect(composer).to_be_hidden()
    await expect(ann_page.get_by_test_id("recorder-time")).to_have_text("0:02")
    await ann_page.get_by_test_id("recorder-send").click()
    await expect(ann_page.get_by_test_id("recorder")).to_be_hidden()
    await acknowledged(ann_page, 2)
    await expect(ann_page.get_by_test_id("voice-message")).to_have_count(1)
    await shot(ann_page, "23-media-sent")

    # Stored as sent: an image message with its caption, then a voice message.
    assert await sync_to_async(chat_rows)(ann) == [
        ("image", CAPTION, [("image", "image/png")]),
        ("voice", "", [("voice", "audio/webm")]),  # Chromium records Opus in WebM
    ]
    voice = await sync_to_async(Attachment.objects.get)(uploader_id=ann.id, kind="voice")
    assert 2 <= voice.duration < 10
    assert len(voice.waveform) == 64 and max(voice.waveform) == 255 and min(voice.waveform) < 255

    # Ben, on his phone, sees the thumbnail (its box reserved before it loads) and the caption.
    await expect(messages(ben_page)).to_have_count(2)
    thumbnail = ben_page.get_by_test_id("attachment-thumbnail")
    reserved = [await thumbnail.get_attribute(side) for side in ("width", "height")]
    assert reserved == [str(n) for n in THUMB_BOX]
    await wait_loaded(thumbnail)
    assert await thumbnail.evaluate("img => img.naturalWidth") < PHOTO_SIZE[0]  # the thumbnail, not the photo
    await expect(ben_page.get_by_test_id("message-text")).to_have_text([CAPTION])
    assert await ben_page.evaluate("() => document.documentElement.scrollWidth") == PHONE["width"]
    await expect(ben_page.get_by_test_id("voice-time")).to_have_text(re.compile(r"^0:0[2-9]$"))
    await shot(ben_page, "21-media-bubbles-phone")

    # He opens the full image in the viewer, then closes it with Escape.
    await thumbnail.click()
    viewer = ben_page.get_by_test_id("media-viewer")
    await expect(viewer).to_be_visible()
    full = ben_page.get_by_test_id("media-viewer-image")
    await wait_loaded(full)
    assert await full.evaluate("img => [img.naturalWidth, img.naturalHeight]") == list(PHOTO_SIZE)
    await shot(ben_page, "22-image-viewer-phone")
    await ben_page.keyboard.press("Escape")
    await expect(viewer).to_be_hidden()

    # He plays the voice message: the audio advances (or has played to its end).
    await ben_page.get_by_test_id("voice-play").click()
    audio = await ben_page.get_by_test_id("voice-audio").element_handle()
    await ben_page.wait_for_function("audio => audio.currentTime > 0.5 || audio.ended", arg=audio)
    await expect(ben_page.get_by_test_id("voice-message").locator(".voice-bar.played").first).to_be_attached()


async def test_progress_cancel_refusal_drop_fresh_links_video_and_hold_to_record(
    open_page: Any, daphne_url: str
) -> None:
    ann, _ben, ann_page, ben_page = await friends_on_desktop_and_phone(open_page, daphne_url)
    tray = ann_page.get_by_test_id("upload-tray")

    # A slow upload shows its progress and is cancelled midway: no file reaches the server.
    cdp = await ann_page.context.new_cdp_session(ann_page)
    await cdp.send("Network.enable")
    slow = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": SLOW_UPLOAD}
    await cdp.send("Network.emulateNetworkConditions", slow)
    big = {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": os.urandom(BIG_FILE)}
    await ann_page.get_by_test_id("attach-input").set_input_files(big)
    upload = tray.get_by_test_id("upload")
    await expect(upload).to_have_attribute("data-status", "uploading")
    await ann_page.wait_for_function(
        "bar => bar.value > 0 && bar.value < 0.5",
        arg=await upload.get_by_test_id("upload-progress").element_handle(),
    )
    await upload.get_by_test_id("upload-cancel").click()
    await expect(tray).to_be_hidden()
    await cdp.send("Network.emulateNetworkConditions", {**slow, "uploadThroughput": -1})
    assert await sync_to_async(Attachment.objects.filter(uploader_id=ann.id).count)() == 0

    # An empty file is refused with the server's reason, shown like any other error.
    empty = {"name": "empty.bin", "mimeType": "application/octet-stream", "buffer": b""}
    await ann_page.get_by_test_id("attach-input").set_input_files(empty)
    await expect(ann_page.get_by_test_id("toast").filter(has_text="That file is empty.")).to_be_visible()
    await expect(tray).to_be_hidden()

    # A file dropped on the chat goes as a card with its name, size and a download link.
    notes = {"name": NOTES, "mimeType": "text/plain", "buffer": b"minutes of the meeting\n" * 40}
    chat_view = ann_page.get_by_test_id("chat-view")
    await chat_view.evaluate(DRAG, {"type": "dragover", "name": NOTES, "text": notes["buffer"].decode()})
    await expect(ann_page.locator("#drop-zone")).to_be_visible()
    await chat_view.evaluate(DRAG, {"type": "drop"})
    await expect(ann_page.locator("#drop-zone")).to_be_hidden()
    await expect(tray.get_by_test_id("upload")).to_have_attribute("data-status", "ready")
    await ann_page.get_by_test_id("send-button").click()
    await acknowledged(ann_page, 1)
    card = ben_page.get_by_test_id("file-card")
    await expect(card.locator(".file-card-name")).to_have_text(NOTES)  # markup in a name is text
    await expect(card).to_contain_text("920 B")
    assert re.search(r"/media/\d+/file\?exp=\d+&sig=", await card.get_attribute("href"))
    assert await card.get_attribute("download") == NOTES
    await expect(ben_page.locator("#app b, #app [onerror]")).to_have_count(0)
    assert await ben_page.evaluate("() => window.__xss") is None
    assert await sync_to_async(chat_rows)(ann) == [("file", "", [("file", "text/plain")])]

    # A link that has expired by the time it is used: the client asks once for fresh links.
    refreshed: list[str] = []
    ben_page.on("request", lambda r: "/api/attachments/" in r.url and refreshed.append(r.url))
    first_try = True

    async def expire_once(route: Route) -> None:
        nonlocal first_try
        if first_try:
            first_try = False
            await route.fulfill(status=403, json=EXPIRED)
        else:
            await route.continue_()

    await ben_page.route(re.compile(r"/media/\d+/(thumb|file)\?"), expire_once)
    await ann_page.get_by_test_id("composer-input").evaluate(PASTE, photo_png())
    await expect(tray.get_by_test_id("upload")).to_have_attribute("data-status", "ready")
    await ann_page.get_by_test_id("composer-input").press("Enter")
    await acknowledged(ann_page, 2)
    thumbnail = ben_page.get_by_test_id("attachment-thumbnail")
    await wait_loaded(thumbnail)
    attachment_id = await thumbnail.get_attribute("data-attachment-id")
    assert [url.split("/api/", 1)[1] for url in refreshed] == [f"attachments/{attachment_id}"]

    # A video (a few frames of a canvas, recorded by the page) plays inline with its controls.
    await ann_page.get_by_test_id("composer-input").evaluate(PASTE_VIDEO)
    await expect(tray.get_by_test_id("upload")).to_have_attribute("data-status", "ready")
    await ann_page.get_by_test_id("send-button").click()
    await acknowledged(ann_page, 3)
    video = ben_page.get_by_test_id("attachment-video")
    await expect(video).to_have_attribute("controls", "")
    await ben_page.wait_for_function("video => video.readyState >= 1", arg=await video.element_handle())

    # Holding the mic button records; letting go sends.
    await ann_page.get_by_test_id("mic-button").hover()
    await ann_page.mouse.down()
    await expect(ann_page.get_by_test_id("recorder-time")).to_have_text("0:01")
    await ann_page.mouse.up()
    await expect(ann_page.get_by_test_id("recorder")).to_be_hidden()
    await acknowledged(ann_page, 4)
    await expect(ben_page.get_by_test_id("voice-message")).to_have_count(1)
    assert [row[0] for row in await sync_to_async(chat_rows)(ann)] == ["file", "image", "video", "voice"]
