"""Security headers on every door (imsuite.security_headers, Django's SecurityMiddleware): the web
client, its service worker, the admin, the API docs, the REST API and uploaded files; HTTPS behind a
TLS proxy; and `check --deploy` clean with the production environment."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import storages
from django.test import Client

from imsuite.security_headers import API_POLICY, media_origins, page_policy
from tests.media.s3_server import S3Server, s3_server, s3_storage_config  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https: http:; "
    "media-src 'self' blob:; connect-src 'self' ws://testserver; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(response: Any) -> dict[str, str | None]:
    names = [*COMMON, "Content-Security-Policy", "Strict-Transport-Security"]
    return {name: response.headers.get(name) for name in names}


@pytest.mark.parametrize(
    "path", ["/", "/sw.js", "/jsi18n/", "/admin/login/", "/api/docs/", "/api/docs/?script="]
)
@pytest.mark.django_db
def test_pages_and_scripts_get_the_page_policy(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    policy = PAGE_POLICY
    if path.startswith("/api/docs/"):  # Swagger UI sets style attributes from its scripts
        policy = policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    assert security_headers(response) == {
        **COMMON,
        "Content-Security-Policy": policy,
        "Strict-Transport-Security": None,  # plain HTTP: no HSTS
    }


@pytest.mark.django_db
def test_the_api_docs_run_no_inline_script() -> None:
    page = Client().get("/api/docs/").content.decode()
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">',
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js">',
        '<script src="/api/docs/?script=">',
    ]


@pytest.mark.django_db
def test_the_page_runs_nothing_inline() -> None:
    """Every <script> of the page has a src, no element has an event handler or a style attribute,
    and the policy allows neither inline code nor eval."""
    page = Client().get("/").content.decode()
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == [
        '<script src="/static/app/theme-boot.js">',  # the stored theme before the first paint
        '<script src="/jsi18n/">',
        '<script type="module" src="/static/app/main.js">',
    ]
    assert re.findall(r"\s(on[a-z]+|style)=", page) == []
    assert "unsafe" not in PAGE_POLICY


@pytest.mark.parametrize(
    ("path", "status"), [("/api/health", 200), ("/api/users/me", 401), ("/api/nothing", 404)]
)
@pytest.mark.django_db
def test_the_api_gets_the_api_policy(path: str, status: int) -> None:
    response = Client().get(path)
    assert response.status_code == status
    assert security_headers(response) == {
        **COMMON,
        "Content-Security-Policy": API_POLICY,
        "Strict-Transport-Security": None,
    }


@pytest.mark.parametrize(
    ("path", "policy"), [("/static/app/main.js", PAGE_POLICY), ("/static/app/app.css", API_POLICY)]
)
def test_static_files_get_a_policy_too(path: str, policy: str) -> None:
    """WhiteNoise answers before XFrameOptionsMiddleware (a script or a style sheet is never framed)."""
    response = Client().get(path)
    assert response.status_code == 200
    assert security_headers(response) == {
        **COMMON,
        "X-Frame-Options": None,
        "Content-Security-Policy": policy,
        "Strict-Transport-Security": None,
    }


def test_a_signed_in_moderator_s_admin_pages_get_them(staff: Client) -> None:
    response = staff.get("/admin/accounts/user/")
    assert response.status_code == 200
    assert security_headers(response) == {
        **COMMON,
        "Content-Security-Policy": PAGE_POLICY,
        "Strict-Transport-Security": None,
    }


TLS = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


@pytest.mark.django_db
def test_behind_tls_https_gets_hsts_and_wss_and_plain_http_is_redirected(settings: Any) -> None:
    for name, value in TLS.items():
        setattr(settings, name, value)
    secure = Client(HTTP_X_FORWARDED_PROTO="https")
    response = secure.get("/", HTTP_HOST="testserver")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY.replace("ws://", "wss://")
    plain = Client().get("/api/users/me")
    assert (plain.status_code, plain.headers["Location"]) == (301, "https://testserver/api/users/me")
    # The container's health check asks daphne directly, over plain HTTP.
    assert Client().get("/api/health").status_code == 200


def deploy_check(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy` in a fresh process with only this environment (no database is
    reached: the addresses only choose PostgreSQL and Redis)."""
    base = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {
    "DATABASE_URL": "postgres://imsuite@127.0.0.1:9/imsuite",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "SECRET_KEY": "x7Qm2pL9vR4tY8wZ1aB6cD3eF5gH0jK2lM4nP6qS8uV0wX3yZ5-_",  # 52 characters, 50+ unique
    "ALLOWED_HOSTS": "chat.example.com",
    "TRUSTED_PROXIES": "10.0.0.2/32",
    "BEHIND_TLS_PROXY": "true",
}


def test_check_deploy_is_clean_with_the_production_environment() -> None:
    result = deploy_check(**PRODUCTION)
    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (
        0,
        "System check identified no issues (2 silenced).",
        "",
    )


def test_a_tls_proxy_that_is_not_trusted_is_refused() -> None:
    """Without TRUSTED_PROXIES the proxy's X-Forwarded-Proto is dropped: every request would be
    redirected to HTTPS again, for ever."""
    result = deploy_check(**{**PRODUCTION, "TRUSTED_PROXIES": ""})
    assert result.returncode == 1
    assert "(imsuite.E001) BEHIND_TLS_PROXY is set but TRUSTED_PROXIES is empty." in result.stderr


def test_check_deploy_without_tls_says_what_is_missing() -> None:
    result = deploy_check(**{**PRODUCTION, "BEHIND_TLS_PROXY": ""})
    found = sorted(code for code in ("W004", "W008", "W012", "W016") if f"security.{code}" in result.stderr)
    assert found == ["W004", "W008", "W012", "W016"]


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_media_on_an_object_store_may_be_played_from_it(
    s3_server: S3Server,  # noqa: F811
    settings: Any,
    style: str,
) -> None:
    """The policy's media-src names the host of the presigned links a /media/ link redirects to."""
    config = s3_storage_config(s3_server, "media-csp", addressing_style=style)
    settings.STORAGES = {**settings.STORAGES, "media": config}
    link = urlsplit(storages["media"].url("attachments/x.ogg"))
    origin = f"{link.scheme}://{link.netloc}"
    endpoint = urlsplit(s3_server.endpoint_url)
    assert media_origins() == (
        [s3_server.endpoint_url]
        if style == "path"
        else [s3_server.endpoint_url, f"{endpoint.scheme}://*.{endpoint.netloc}"]
    )
    wildcard = origin.replace("media-csp.", "*.")
    assert origin in media_origins() or wildcard in media_origins()
    assert f"media-src 'self' blob: {' '.join(media_origins())};" in page_policy(None)


def test_media_on_aws_itself(settings: Any) -> None:
    options = {"bucket_name": "b", "endpoint_url": None, "public_endpoint_url": None}
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {"BACKEND": "media.s3.MediaS3Storage", "OPTIONS": options},
    }
    assert media_origins() == ["https://*.amazonaws.com"]
