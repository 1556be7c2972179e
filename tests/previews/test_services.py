"""Link previews end to end through the service layer: a message links to pages of a loopback
server, the timers process's round fetches them (through the address guard), and the message's
members get message.preview; history and sync carry link_previews. Refusals of every address that
is not public, redirects, limits, non-HTML, the cache, edits and clearing."""

import io
import socket
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from accounts.models import User
from chats import services as chat_services
from chats.models import Message
from chats.realtime import render_for
from chats.selectors import changes_since
from imsuite.errors import DomainError
from imsuite.models import AuditEntry
from previews.models import LinkPreview, MessageLinkPreview
from previews.pages import MAX_REDIRECTS
from previews.services import IMAGE_DIR, preview_clear, previews_round, url_hash
from tests.groups.test_services import unwrapped

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(alice: User, bob: User) -> int:
    return chat_services.private_chat_ensure(user_a=alice, user_b=bob).pk


def send(alice: User, chat: int, content: str) -> Message:
    message, _ = chat_services.message_send(actor=alice, chat_id=chat, content=content)
    return message


def frames(inbox, user: User) -> list[tuple[str, dict[str, Any]]]:
    return [render_for(*unwrapped(message), user.pk) for message in inbox.drain(user, wait=0.05)]


def preview(**fields: Any) -> dict[str, Any]:
    return {"title": "", "description": "", "site_name": "", "image_url": None, **fields}


def article(pages_base: str, image_name: str) -> dict[str, Any]:
    return preview(
        url=f"{pages_base}/article",
        title="Rust & Ruby",
        description="A tale of two languages.",
        site_name="Example News",
        image_url=f"/media/previews/{image_name}",
    )


def test_a_linked_page_becomes_a_preview_event_and_history_field(
    alice, bob, chat, pages, inbox, media_root, django_capture_on_commit_callbacks
):
    message = send(alice, chat, f"look: {pages.base}/article, and {pages.base}/plain.")
    seq_before = Message.objects.get(pk=message.pk).seq
    inbox.listen(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        assert previews_round() == 1

    [row] = LinkPreview.objects.filter(url=f"{pages.base}/article")
    assert (row.status, row.url_hash, row.title) == ("ok", url_hash(row.url), "Rust & Ruby")
    expected = [
        article(pages.base, row.image_name),
        preview(url=f"{pages.base}/plain", title="Only a title", description="And a meta description."),
    ]
    stored = Message.objects.get(pk=message.pk)
    assert stored.link_previews == expected and stored.seq > seq_before and not stored.is_edited
    frame = ("message.preview", {"chat_id": chat, "message_id": message.pk, "previews": expected})
    assert frames(inbox, alice) == [frame] and frames(inbox, bob) == [frame]
    assert sorted(
        MessageLinkPreview.objects.filter(message_id=message.pk).values_list("preview__url", flat=True)
    ) == [
        f"{pages.base}/article",
        f"{pages.base}/plain",
    ]
    # the thumbnail is ours: a small WebP in media storage, not the site's 1200x630 PNG
    with Image.open(io.BytesIO((media_root / IMAGE_DIR / row.image_name).read_bytes())) as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (320, 168))
    # sync replays it as an edit-like change carrying link_previews; a page without links has none
    [(name, data)] = changes_since(bob.pk, seq_before)
    assert (name, data["message"]["link_previews"]) == ("message.edit", expected)
    plain = send(alice, chat, "no links here")
    assert "link_previews" not in changes_since(bob.pk, stored.seq)[0][1]["message"]
    assert previews_round() == 0 and Message.objects.get(pk=plain.pk).link_previews is None


def test_only_text_is_looked_at(alice, chat, pages):
    """An image message's content is the picture's URL: not a link to preview."""
    message, _ = chat_services.message_send(
        actor=alice, chat_id=chat, content=f"{pages.base}/article", message_type="image"
    )
    assert previews_round() == 0 and sum(pages.hits.values()) == 0
    assert Message.objects.get(pk=message.pk).link_previews is None


def test_twitter_cards_and_pages_that_say_nothing(alice, chat, pages):
    message = send(alice, chat, f"{pages.base}/twitter {pages.base}/empty")
    assert previews_round() == 1
    assert Message.objects.get(pk=message.pk).link_previews == [
        preview(url=f"{pages.base}/twitter", title="Card title", description="Card text")
    ]
    assert LinkPreview.objects.get(url=f"{pages.base}/empty").status == "empty"


def test_one_fetch_per_url_however_many_messages_link_to_it(alice, chat, pages):
    first = send(alice, chat, f"{pages.base}/counted")
    assert previews_round() == 1
    second = send(alice, chat, f"again {pages.base}/counted and {pages.base}/counted")
    third = send(alice, chat, f"{pages.base}/counted")
    assert previews_round() == 2
    assert pages.hits["/counted"] == 1
    shown = preview(url=f"{pages.base}/counted", title="Only a title", description="And a meta description.")
    for message in (first, second, third):
        assert Message.objects.get(pk=message.pk).link_previews == [shown]


def test_a_stale_cache_entry_is_fetched_again(alice, chat, pages, settings):
    send(alice, chat, f"{pages.base}/counted")
    previews_round()
    LinkPreview.objects.update(fetched_at=timezone.now() - timezone.timedelta(seconds=86401))
    send(alice, chat, f"{pages.base}/counted")
    previews_round()
    assert pages.hits["/counted"] == 2


def test_at_most_three_links_of_a_message_are_previewed(alice, chat, pages):
    links = [f"{pages.base}/{p}" for p in ("plain", "twitter", "counted", "other")]
    message = send(alice, chat, " ".join(links))
    previews_round()
    assert [p["url"] for p in Message.objects.get(pk=message.pk).link_previews] == links[:3]
    assert pages.hits["/other"] == 0


# ---- refusals: only public addresses, whatever the name or the redirect ---------------------------


@pytest.fixture
def no_connections(monkeypatch) -> list[Any]:
    """Records (and forbids) every connection attempt."""
    attempts: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> None:
        attempts.append(address)
        raise AssertionError(f"connected to {address}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "10.0.0.1",
        "169.254.169.254",
        "[::1]:{port}",
        "localhost:{port}",
    ],
)
def test_addresses_that_are_not_public_are_never_fetched(alice, chat, pages, settings, no_connections, host):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # as in production
    url = f"http://{host.format(port=pages.port)}/article"
    message = send(alice, chat, f"see {url}")
    assert previews_round() == 0
    row = LinkPreview.objects.get(url=url)
    assert (row.status, row.title, row.image_name) == ("failed", "", "")
    assert row.error.startswith("address_not_allowed: ")
    assert Message.objects.get(pk=message.pk).link_previews is None
    assert no_connections == [] and sum(pages.hits.values()) == 0


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("http://10.0.0.1/admin", "address_not_allowed: 10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "address_not_allowed: 169.254.169.254"),
        ("ftp://example.org/file", "only http(s)"),
        ("file:///etc/passwd", "only http(s)"),
    ],
)
def test_a_redirect_to_a_refused_address_or_scheme_is_not_followed(alice, chat, pages, target, error):
    pages.redirect_to = target
    message = send(alice, chat, f"{pages.base}/redirect")
    assert previews_round() == 0
    row = LinkPreview.objects.get(url=f"{pages.base}/redirect")
    assert row.status == "failed" and row.error.startswith(error), row.error
    assert pages.hits["/redirect"] == 1 and Message.objects.get(pk=message.pk).link_previews is None


def test_a_redirect_within_allowed_addresses_is_followed_a_few_times(alice, chat, pages):
    pages.redirect_to = f"http://localhost:{pages.port}/plain"
    message = send(alice, chat, f"{pages.base}/redirect")
    previews_round()
    assert Message.objects.get(pk=message.pk).link_previews == [
        preview(url=f"{pages.base}/redirect", title="Only a title", description="And a meta description.")
    ]
    pages.redirect_to = f"{pages.base}/redirect"  # a loop
    send(alice, chat, f"{pages.base}/redirect#loop")  # another URL (the fragment is never sent)
    previews_round()
    assert LinkPreview.objects.get(url=f"{pages.base}/redirect#loop").error == "too many redirects"
    assert pages.hits["/redirect"] == 1 + MAX_REDIRECTS + 1
    assert pages.cookies == []  # each answer set a cookie; none was sent back


def test_non_html_answers_are_not_previewed(alice, chat, pages):
    send(alice, chat, f"{pages.base}/data.json {pages.base}/picture.png {pages.base}/missing")
    assert previews_round() == 0
    errors = dict(LinkPreview.objects.values_list("url", "error"))
    assert errors == {
        f"{pages.base}/data.json": "not text/html or application/xhtml+xml: application/json",
        f"{pages.base}/picture.png": "not text/html or application/xhtml+xml: image/png",
        f"{pages.base}/missing": "status 404",
    }


def test_only_the_first_max_bytes_are_read(alice, chat, pages, settings):
    settings.IMSUITE = {**settings.IMSUITE, "LINK_PREVIEW_MAX_BYTES": 2000}
    message = send(alice, chat, f"{pages.base}/huge")
    previews_round()
    assert Message.objects.get(pk=message.pk).link_previews == [
        preview(url=f"{pages.base}/huge", title="Big")
    ]


def test_a_slow_page_is_cut_off_at_the_time_limit(alice, chat, pages, settings):
    settings.IMSUITE = {**settings.IMSUITE, "LINK_PREVIEW_TIMEOUT_SECONDS": 0.5}
    message = send(alice, chat, f"{pages.base}/slow")
    previews_round()
    row = LinkPreview.objects.get(url=f"{pages.base}/slow")
    assert row.status == "failed" and row.error.startswith("timed out"), row.error
    assert Message.objects.get(pk=message.pk).link_previews is None
    # The fetch hung up on the trickle (the page would have gone on for 30 s).
    assert pages.slow_over.wait(10) and pages.slow_end == "client left"


def test_turned_off_nothing_is_fetched_and_the_messages_are_passed_over(alice, chat, pages, settings):
    settings.IMSUITE = {**settings.IMSUITE, "LINK_PREVIEWS_ENABLED": False}
    message = send(alice, chat, f"{pages.base}/plain")
    assert previews_round() == 0
    settings.IMSUITE = {**settings.IMSUITE, "LINK_PREVIEWS_ENABLED": True}
    assert previews_round() == 0
    assert sum(pages.hits.values()) == 0 and Message.objects.get(pk=message.pk).link_previews is None


# ---- edits, recalls ------------------------------------------------------------------------------


def test_an_edit_drops_the_previews_of_links_gone_and_fetches_the_new_ones(
    alice, bob, chat, pages, inbox, django_capture_on_commit_callbacks
):
    message = send(alice, chat, f"{pages.base}/plain {pages.base}/twitter")
    previews_round()
    inbox.listen(bob)
    with django_capture_on_commit_callbacks(execute=True):
        chat_services.message_edit(
            actor=alice, message_id=message.pk, content=f"{pages.base}/twitter {pages.base}/other"
        )
    twitter = preview(url=f"{pages.base}/twitter", title="Card title", description="Card text")
    [(name, payload)] = frames(inbox, bob)
    assert (name, payload["message"]["link_previews"]) == ("message.edit", [twitter])  # /plain went at once
    with django_capture_on_commit_callbacks(execute=True):
        assert previews_round() == 1
    other = preview(url=f"{pages.base}/other", title="Card title", description="Card text")
    assert frames(inbox, bob) == [
        ("message.preview", {"chat_id": chat, "message_id": message.pk, "previews": [twitter, other]})
    ]
    assert pages.hits["/twitter"] == 1  # cached
    with django_capture_on_commit_callbacks(execute=True):
        chat_services.message_edit(actor=alice, message_id=message.pk, content="no more links")
    [(name, payload)] = frames(inbox, bob)
    assert "link_previews" not in payload["message"]
    assert Message.objects.get(pk=message.pk).link_previews is None and previews_round() == 0


def test_a_recalled_message_gets_no_preview_and_shows_none(alice, chat, pages):
    message = send(alice, chat, f"{pages.base}/plain")
    chat_services.message_delete(actor=alice, message_id=message.pk)
    assert previews_round() == 0 and sum(pages.hits.values()) == 0
    shown = send(alice, chat, f"{pages.base}/plain")
    previews_round()
    chat_services.message_delete(actor=alice, message_id=shown.pk)
    [(name, _)] = changes_since(alice.pk, 0)[-1:]
    assert name == "message.delete" and Message.objects.get(pk=shown.pk).content == ""


# ---- clearing --------------------------------------------------------------------------------------


def test_a_moderator_clears_a_preview_everywhere_for_good(
    alice, bob, chat, pages, moderator, inbox, media_root, django_capture_on_commit_callbacks
):
    one = send(alice, chat, f"{pages.base}/article {pages.base}/plain")
    two = send(bob, chat, f"{pages.base}/article")
    previews_round()
    row = LinkPreview.objects.get(url=f"{pages.base}/article")
    image = media_root / IMAGE_DIR / row.image_name
    assert image.exists()
    inbox.listen(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        assert preview_clear(actor=moderator, preview_id=row.pk) == 2
    plain = preview(url=f"{pages.base}/plain", title="Only a title", description="And a meta description.")
    assert Message.objects.get(pk=one.pk).link_previews == [plain]
    assert Message.objects.get(pk=two.pk).link_previews is None
    expected = [
        ("message.preview", {"chat_id": chat, "message_id": one.pk, "previews": [plain]}),
        ("message.preview", {"chat_id": chat, "message_id": two.pk, "previews": []}),
    ]
    assert frames(inbox, alice) == expected and frames(inbox, bob) == expected
    row.refresh_from_db()
    assert (row.status, row.title, row.description, row.image_name) == ("cleared", "", "", "")
    assert not image.exists() and not MessageLinkPreview.objects.filter(preview=row).exists()
    entry = AuditEntry.objects.get(action="link_preview.clear")
    assert (entry.actor_id, entry.target_id, entry.details) == (moderator.pk, row.pk, {"url": row.url})
    # never fetched again, however old
    LinkPreview.objects.filter(pk=row.pk).update(fetched_at=timezone.now() - timezone.timedelta(days=30))
    three = send(alice, chat, f"{pages.base}/article")
    previews_round()
    assert Message.objects.get(pk=three.pk).link_previews is None and pages.hits["/article"] == 1


def test_clearing_a_preview_that_does_not_exist_is_not_found(moderator):
    with pytest.raises(DomainError) as refused:
        preview_clear(actor=moderator, preview_id=12345)
    assert (refused.value.code, refused.value.http_status) == ("NOT_FOUND", 404)
