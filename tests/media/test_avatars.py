"""Uploaded avatars of people and groups: the picture made (upright, centred square, 256x256 WebP,
no metadata), who may set a group's, the old file removed, refusals, and GET /media/avatars/<name>."""

import os
import re
from io import BytesIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts import services as account_services
from accounts.models import User
from bots.actions import set_group_avatar
from chats.models import ChatMember, Role
from groups import services as group_services
from groups.models import Group
from media.avatars import AVATAR_DIR, avatar_name
from media.storage import media_storage
from tests.accounts.test_api import assert_error, check
from tests.media import pictures
from tests.media.s3_server import S3Server, s3_media, s3_server  # noqa: F401
from tests.media.test_s3 import follow, stored_objects

pytestmark = pytest.mark.django_db

URL_RE = re.compile(r"/media/avatars/[0-9a-f]{32}\.webp")
OUTSIDE = "https://example.com/face.png"


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def team(alice, bob, carol) -> SimpleNamespace:
    """A group: alice owns it, bob is an admin, carol a plain member."""
    for friend in (bob, carol):
        account_services.friendship_create(user_a=alice, user_b=friend)
    group = group_services.group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])
    ChatMember.objects.filter(chat_id=group.pk, user=bob).update(role=Role.ADMIN)
    return SimpleNamespace(group=group, gid=group.pk, url=f"/api/groups/{group.pk}/avatar")


def upload(client, url: str, data: bytes, name: str = "face.jpg"):
    return client.post(url, {"file": SimpleUploadedFile(name, data)}, format="multipart")


def stored_names() -> set[str]:
    """The avatar files in the media storage."""
    storage = media_storage()
    return set(storage.listdir(AVATAR_DIR)[1]) if storage.exists(AVATAR_DIR) else set()


def fetch(url: str):
    """GET an avatar the way a browser's <img> does: no credentials."""
    return Client().get(url)


def picture(url: str) -> Image.Image:
    response = fetch(url)
    assert response.status_code == 200
    image = Image.open(BytesIO(b"".join(response.streaming_content)))
    image.load()
    return image


def near(pixel: tuple, colour: tuple, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


# --- a person's avatar -----------------------------------------------------------------------


def test_own_avatar_is_upright_square_webp_without_metadata_and_announced(
    alice, bob, client_for, inbox, django_capture_on_commit_callbacks
):
    account_services.friendship_create(user_a=alice, user_b=bob)
    inbox.listen(alice, bob)
    # Stored 200x100, left half red, right half blue; Orientation 6 shows it turned a quarter right:
    # 100x200, red on top. A centred square of that is red above, blue below.
    data = pictures.jpeg(pictures.halves((200, 100)), orientation=6, gps=True)
    with django_capture_on_commit_callbacks(execute=True):
        body = check(upload(client_for(alice), "/api/users/me/avatar", data), 200)
    assert URL_RE.fullmatch(body["avatar_url"])
    assert User.objects.get(pk=alice.pk).avatar_url == body["avatar_url"]
    assert body["id"] == alice.pk and "date_joined" in body  # the own profile, as GET /api/users/me
    image = picture(body["avatar_url"])
    assert (image.format, image.size) == ("WEBP", (256, 256))
    assert dict(image.getexif()) == {} and "icc_profile" not in image.info and "xmp" not in image.info
    assert near(image.getpixel((128, 20)), pictures.RED) and near(image.getpixel((128, 235)), pictures.BLUE)
    assert stored_names() == {avatar_name(body["avatar_url"])}
    expected = {"type": "domain.event", "event": "user.updated", "data": {"user_id": alice.pk}}
    assert inbox.drain(alice) == inbox.drain(bob) == [expected]


@pytest.mark.parametrize(
    ("data", "mode"),
    [(pictures.png_with_alpha(), "RGBA"), (pictures.animated_gif(), "RGB")],
    ids=["png-alpha", "animated-gif"],
)
def test_other_formats_make_an_avatar(alice, client_for, data: bytes, mode: str):
    body = check(upload(client_for(alice), "/api/users/me/avatar", data, "x.bin"), 200)
    image = picture(body["avatar_url"])
    assert (image.format, image.size, image.mode) == ("WEBP", (256, 256), mode)
    if mode == "RGBA":  # the transparent half stays transparent
        assert image.getpixel((10, 128))[3] == 0 and image.getpixel((245, 128))[3] == 255


def test_replacing_and_clearing_remove_the_old_file(alice, client_for, django_capture_on_commit_callbacks):
    client = client_for(alice)
    data = pictures.jpeg(pictures.halves((64, 64)))
    with django_capture_on_commit_callbacks(execute=True):
        first = check(upload(client, "/api/users/me/avatar", data), 200)["avatar_url"]
        second = check(upload(client, "/api/users/me/avatar", data), 200)["avatar_url"]
    assert first != second and stored_names() == {avatar_name(second)}
    assert fetch(first).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        body = check(client.delete("/api/users/me/avatar"), 200)
    assert body["avatar_url"] == "" == User.objects.get(pk=alice.pk).avatar_url
    assert stored_names() == set() and fetch(second).status_code == 404
    # An avatar set by URL replaces an uploaded one the same way.
    with django_capture_on_commit_callbacks(execute=True):
        check(upload(client, "/api/users/me/avatar", data), 200)
        check(client.patch("/api/users/me", {"avatar_url": OUTSIDE}, format="json"), 200)
    assert stored_names() == set() and User.objects.get(pk=alice.pk).avatar_url == OUTSIDE


def test_a_copied_avatar_url_keeps_the_file(
    alice, bob, client_for, settings, django_capture_on_commit_callbacks
):
    """Avatars are public: someone may put another's avatar URL in their profile. Replacing the
    original then must not break the copy."""
    settings.PUBLIC_BASE_URL = "https://chat.example.com"
    data = pictures.jpeg(pictures.halves((64, 64)))
    with django_capture_on_commit_callbacks(execute=True):
        url = check(upload(client_for(alice), "/api/users/me/avatar", data), 200)["avatar_url"]
        assert url.startswith("https://chat.example.com/media/avatars/")
        check(client_for(bob).patch("/api/users/me", {"avatar_url": url}, format="json"), 200)
        check(client_for(alice).delete("/api/users/me/avatar"), 200)
    assert stored_names() == {avatar_name(url)}
    with django_capture_on_commit_callbacks(execute=True):
        check(client_for(bob).delete("/api/users/me/avatar"), 200)
    assert stored_names() == set()


# --- a group's avatar ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owner_and_admin_upload_the_group_avatar_announced_as_by_url(
    who, alice, bob, carol, team, client_for, inbox, django_capture_on_commit_callbacks
):
    actor = {"owner": alice, "admin": bob}[who]
    inbox.listen(alice, bob, carol)
    data = pictures.jpeg(pictures.halves((300, 120)), gps=True)
    with django_capture_on_commit_callbacks(execute=True):
        body = check(upload(client_for(actor), team.url, data), 200)
    url = body["avatar_url"]
    assert URL_RE.fullmatch(url) and Group.objects.get(pk=team.gid).avatar_url == url
    assert body["id"] == team.gid and body["my_role"] == {"owner": "owner", "admin": "admin"}[who]
    image = picture(url)
    assert (image.format, image.size, dict(image.getexif())) == ("WEBP", (256, 256), {})
    data = {
        "group_id": team.gid,
        "name": "Team",
        "avatar_url": url,
        "owner_id": alice.pk,
        "members_mention_all": False,
        "dissolved_at": None,
        "operator_id": actor.pk,
    }
    expected = [{"type": "domain.event", "event": "group.updated", "data": data}]
    assert inbox.drain(alice) == inbox.drain(bob) == inbox.drain(carol) == expected


def test_a_plain_member_or_outsider_cannot_change_the_group_avatar(
    alice, carol, make_user, team, client_for, django_capture_on_commit_callbacks
):
    data = pictures.jpeg(pictures.halves((64, 64)))
    with django_capture_on_commit_callbacks(execute=True):
        url = check(upload(client_for(alice), team.url, data), 200)["avatar_url"]
        member = client_for(carol)
        assert_error(upload(member, team.url, data), 403, "PERMISSION_DENIED", reason="not_admin")
        assert_error(member.delete(team.url), 403, "PERMISSION_DENIED", reason="not_admin")
        outsider = client_for(make_user("dave"))
        assert_error(upload(outsider, team.url, data), 404, "NOT_FOUND")
        assert_error(outsider.delete(team.url), 404, "NOT_FOUND")
    assert Group.objects.get(pk=team.gid).avatar_url == url
    assert stored_names() == {avatar_name(url)}  # nothing stored for the refused uploads


def test_group_avatar_replaced_by_upload_url_or_bot_and_cleared(
    alice, team, client_for, django_capture_on_commit_callbacks
):
    client = client_for(alice)
    data = pictures.jpeg(pictures.halves((64, 64)))
    with django_capture_on_commit_callbacks(execute=True):
        first = check(upload(client, team.url, data), 200)["avatar_url"]
        second = check(upload(client, team.url, data), 200)["avatar_url"]
    assert stored_names() == {avatar_name(second)}
    with django_capture_on_commit_callbacks(execute=True):
        body = check(client.delete(team.url), 200)
    assert body["avatar_url"] == "" == Group.objects.get(pk=team.gid).avatar_url
    assert stored_names() == set() and fetch(first).status_code == fetch(second).status_code == 404
    # set_group_avatar by URL (bots) keeps working and removes an uploaded avatar it replaces.
    bot, _token = account_services.bot_create(actor=alice, username="robo")
    group_services.member_add(actor=alice, group_id=team.gid, user_id=bot.pk)
    ChatMember.objects.filter(chat_id=team.gid, user=bot).update(role=Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        check(upload(client, team.url, data), 200)
        set_group_avatar(bot, {"groupId": team.gid, "image": OUTSIDE})
    assert Group.objects.get(pk=team.gid).avatar_url == OUTSIDE and stored_names() == set()


def test_a_failed_change_leaves_no_file(alice, team, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(group_services.audit, "record", broken)
    with pytest.raises(RuntimeError):
        group_services.group_avatar_upload(
            actor=alice,
            group_id=team.gid,
            upload=SimpleUploadedFile("a.jpg", pictures.jpeg(pictures.halves((64, 64)))),
        )
    assert stored_names() == set() and Group.objects.get(pk=team.gid).avatar_url == ""


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"plain text, not a picture", "type"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "type"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "type"),
        (pictures.corrupt_jpeg(), "corrupt"),
        (pictures.truncated(pictures.jpeg(pictures.halves((300, 300)))), "corrupt"),
        (pictures.bomb_png(8000), "image_too_large"),  # 64 M pixels > UPLOAD_MAX_PIXELS (50 M)
    ],
    ids=["text", "svg", "pdf", "corrupt-jpeg", "truncated-jpeg", "bomb"],
)
def test_what_is_not_a_usable_picture_is_refused(alice, team, client_for, data: bytes, reason: str):
    client = client_for(alice)
    for url in ("/api/users/me/avatar", team.url):
        assert_error(upload(client, url, data), 400, "VALIDATION_ERROR", field="file", reason=reason)
    assert stored_names() == set()
    assert User.objects.get(pk=alice.pk).avatar_url == "" == Group.objects.get(pk=team.gid).avatar_url


def test_too_large_empty_missing_and_json_are_refused(alice, client_for, settings):
    client = client_for(alice)
    data = pictures.jpeg(pictures.halves((64, 64)))
    settings.IMSUITE = {**settings.IMSUITE, "UPLOAD_MAX_BYTES": len(data) - 1}
    body = assert_error(
        upload(client, "/api/users/me/avatar", data), 413, "VALIDATION_ERROR", reason="too_large"
    )
    assert body["details"]["max_bytes"] == len(data) - 1
    assert_error(
        upload(client, "/api/users/me/avatar", b""), 400, "VALIDATION_ERROR", field="file", reason="empty"
    )
    assert_error(
        client.post("/api/users/me/avatar", {}, format="multipart"),
        400,
        "VALIDATION_ERROR",
        field="file",
        reason="required",
    )
    response = client.post("/api/users/me/avatar", {"file": "x"}, format="json")
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert stored_names() == set()


def test_avatar_uploads_count_against_the_upload_rate_limit(alice, team, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_UPLOADS": 2}
    client = client_for(alice)
    data = pictures.jpeg(pictures.halves((32, 32)))
    check(upload(client, "/api/users/me/avatar", data), 200)
    check(upload(client, team.url, data), 200)
    body = assert_error(upload(client, "/api/users/me/avatar", data), 429, "RATE_LIMITED", limit=2)
    assert body["details"]["retry_after"] >= 1


def test_unauthenticated_upload_is_refused(api, team):
    data = pictures.jpeg(pictures.halves((32, 32)))
    assert_error(upload(api, "/api/users/me/avatar", data), 401, "AUTHENTICATION_FAILED")
    assert_error(upload(api, team.url, data), 401, "AUTHENTICATION_FAILED")
    assert stored_names() == set()


# --- GET /media/avatars/<name> ---------------------------------------------------------------


def test_the_avatar_view_headers_and_unknown_names(alice, client_for):
    body = check(upload(client_for(alice), "/api/users/me/avatar", pictures.png_with_alpha()), 200)
    url = body["avatar_url"]
    response = fetch(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Content-Disposition"] == f'inline; filename="{avatar_name(url)}"'
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    head = Client().head(url)
    assert head.status_code == 200 and head["Content-Type"] == "image/webp"
    for missing in (
        "/media/avatars/" + "0" * 32 + ".webp",  # well formed, never stored
        "/media/avatars/" + "A" * 32 + ".webp",
        "/media/avatars/..%2Fsecret",
        "/media/avatars/x.png",
    ):
        assert_error(fetch(missing), 404, "NOT_FOUND")
    assert Client().post(url).status_code == 405


# --- admin -----------------------------------------------------------------------------------


def test_a_moderator_edits_a_profile_with_an_uploaded_avatar(alice, moderator, client_for):
    """An uploaded avatar's URL is relative while PUBLIC_BASE_URL is empty: the admin form keeps it
    rather than calling it an invalid URL."""
    url = check(upload(client_for(alice), "/api/users/me/avatar", pictures.png_with_alpha()), 200)[
        "avatar_url"
    ]
    staff = Client()
    staff.force_login(moderator)
    page = reverse("admin:accounts_user_change", args=[alice.pk])
    form = {"username": "alice", "nickname": "Ally", "avatar_url": url, "sex": "female", "age": "28"}
    response = staff.post(page, {**form, "bio": "", "email": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.filter(pk=alice.pk).values_list("nickname", "avatar_url").get() == ("Ally", url)
    response = staff.post(
        page, {**form, "avatar_url": "/media/avatars/elsewhere.png", "bio": "", "email": ""}
    )
    assert response.status_code == 200 and "avatar_url" in response.context["adminform"].form.errors


# --- an object store (S3) --------------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="the S3 path runs on the PG+Redis leg")
def test_avatars_on_an_object_store(
    alice,
    client_for,
    s3_server: S3Server,  # noqa: F811
    s3_media: str,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    client = client_for(alice)
    data = pictures.jpeg(pictures.halves((64, 64)), gps=True)
    with django_capture_on_commit_callbacks(execute=True):
        first = check(upload(client, "/api/users/me/avatar", data), 200)["avatar_url"]
    key = AVATAR_DIR + avatar_name(first)
    objects = stored_objects(s3_server, s3_media)
    assert list(objects) == [key]
    headers, body = follow(Client(), first, s3_server, s3_media, key)  # no token: public by link
    assert body == objects[key] and headers["content-type"] == "image/webp"
    image = Image.open(BytesIO(body))
    assert (image.format, image.size, dict(image.getexif())) == ("WEBP", (256, 256), {})
    with django_capture_on_commit_callbacks(execute=True):
        second = check(upload(client, "/api/users/me/avatar", data), 200)["avatar_url"]
    assert list(stored_objects(s3_server, s3_media)) == [AVATAR_DIR + avatar_name(second)]
    with django_capture_on_commit_callbacks(execute=True):
        check(client.delete("/api/users/me/avatar"), 200)
    assert stored_objects(s3_server, s3_media) == {}
