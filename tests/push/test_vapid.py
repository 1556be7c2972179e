"""The VAPID key: from VAPID_PRIVATE_KEY in the forms py_vapid reads, or made once and kept in the
database in the embedded mode, never made with DATABASE_URL set (Web Push is off then). Served to
browsers by GET /api/push/vapid-key; `manage.py vapid_key` makes one. And /sw.js."""

import hashlib
import logging
from io import StringIO
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from push import vapid
from push.models import PushSubscription, VapidKey
from push.senders import Delivery
from push.webpush import WebPushSender
from push.webpush_api import SERVICE_WORKER

pytestmark = pytest.mark.django_db

KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = vapid.public_point(KEY)
PKCS8 = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
SEC1 = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
).decode()


@pytest.fixture
def embedded(settings: Any) -> None:
    """The embedded mode with no key configured, and no pair loaded by this process yet."""
    settings.VAPID_PRIVATE_KEY = ""
    settings.DATABASE_URL = ""
    vapid.forget_loaded_keys()
    yield
    vapid.forget_loaded_keys()


@pytest.fixture
def production_without_key(settings: Any) -> None:
    settings.VAPID_PRIVATE_KEY = ""
    settings.DATABASE_URL = "postgres://imsuite@db:5432/imsuite"
    vapid.forget_loaded_keys()  # warned again


@pytest.mark.parametrize(
    "text",
    [
        vapid.private_raw(KEY),
        PKCS8,
        SEC1,
        PKCS8.replace("\n", "\\n"),  # as one line in an env file
        "".join(PKCS8.splitlines()[1:-1]).replace("+", "-").replace("/", "_"),  # urlsafe base64 DER
    ],
    ids=["raw", "pkcs8-pem", "sec1-pem", "pem-one-line", "der"],
)
def test_the_configured_key_in_each_form(settings, text):
    settings.VAPID_PRIVATE_KEY = text
    assert vapid.keys().public_key == PUBLIC


@pytest.mark.parametrize(
    "text",
    [
        "not a key",
        ec.generate_private_key(ec.SECP384R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode(),
    ],
    ids=["garbage", "p384"],
)
def test_a_key_that_cannot_sign_is_a_configuration_error(settings, text):
    settings.VAPID_PRIVATE_KEY = text
    with pytest.raises(ImproperlyConfigured, match="VAPID_PRIVATE_KEY"):
        vapid.keys()


def test_a_subject_that_is_no_contact_is_a_configuration_error(settings):
    settings.VAPID_PRIVATE_KEY, settings.VAPID_SUBJECT = vapid.private_raw(KEY), "admin@example.com"
    with pytest.raises(ImproperlyConfigured, match="VAPID_SUBJECT"):
        vapid.keys()


def test_the_endpoint_answers_the_public_key(settings, alice, client_for):
    settings.VAPID_PRIVATE_KEY = PKCS8
    response = client_for(alice).get("/api/push/vapid-key")
    assert (response.status_code, response.json()) == (200, {"public_key": PUBLIC})
    assert Client().get("/api/push/vapid-key").status_code == 401


def test_the_embedded_mode_makes_the_pair_once_and_keeps_it(embedded, alice, client_for):
    assert VapidKey.objects.count() == 0
    first = client_for(alice).get("/api/push/vapid-key").json()["public_key"]
    [row] = VapidKey.objects.all()
    assert row.public_key == first
    assert vapid.public_point(vapid.load_private_key(row.private_key)) == first
    vapid.forget_loaded_keys()  # another process, or this one restarted
    assert vapid.keys().public_key == first
    assert VapidKey.objects.count() == 1


def test_with_a_database_url_and_no_key_web_push_is_off(production_without_key, alice, client_for, caplog):
    with caplog.at_level(logging.WARNING, logger="push.vapid"):
        response = client_for(alice).get("/api/push/vapid-key")
        assert (response.status_code, response.json()) == (
            404,
            {
                "error_code": "NOT_FOUND",
                "message": "Web Push is not configured on this server.",
                "details": {"reason": "webpush_not_configured"},
            },
        )
        subscription = PushSubscription.objects.create(
            user=alice, kind="webpush", endpoint="https://push.example.com/x", p256dh="p", auth="a"
        )
        assert WebPushSender().deliver(subscription, {"chat_id": 1}) == Delivery(
            "retry", "webpush_not_configured"
        )
    assert VapidKey.objects.count() == 0
    [warning] = [record.getMessage() for record in caplog.records if record.name == "push.vapid"]
    assert warning.startswith("Web Push is off: DATABASE_URL is set and VAPID_PRIVATE_KEY is not.")


def test_the_command_makes_a_key_the_setting_takes(settings):
    out = StringIO()
    call_command("vapid_key", stdout=out)
    setting, comment = out.getvalue().splitlines()
    assert setting.startswith("VAPID_PRIVATE_KEY=")
    settings.VAPID_PRIVATE_KEY = setting.removeprefix("VAPID_PRIVATE_KEY=")
    assert comment.endswith(": " + vapid.keys().public_key)


def test_the_service_worker_is_served_from_the_root():
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response.content == SERVICE_WORKER.read_bytes()
    assert response["Content-Type"] == "application/javascript"
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    etag = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    assert response["ETag"] == etag
    assert Client().get("/sw.js", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert Client().post("/sw.js").status_code == 405
