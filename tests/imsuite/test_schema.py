"""The OpenAPI schema: served, complete (every /api/ route and method, nothing else), and valid with
no generator warnings; the Swagger UI is served with its files from this server (no CDN)."""

import json
import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from drf_spectacular import views as spectacular_views

OPERATIONS = {"get", "put", "post", "delete", "patch"}


def api_routes() -> dict[str, set[str]]:
    """Every route under /api/ in the URLconf, in OpenAPI's {param} form, with its view's methods;
    the schema and docs views themselves are not part of the API."""
    found: dict[str, set[str]] = {}

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/"):
                assert isinstance(pattern.pattern, RoutePattern), f"regex route under /api/: {route}"
                view = getattr(pattern.callback, "cls", None) or pattern.callback.view_class
                if view.__module__ == spectacular_views.__name__:
                    continue
                path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
                found[path] = {m for m in OPERATIONS if hasattr(view, m)}

    walk(get_resolver().url_patterns, "")
    return found


@pytest.fixture(scope="module")
def schema() -> dict:
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    return yaml.safe_load(response.content)


def test_schema_is_openapi_3_yaml(schema: dict) -> None:
    assert re.fullmatch(r"3\.\d+\.\d+", schema["openapi"])
    assert schema["info"]["title"] == "IM-Suite API"
    assert schema["components"]["securitySchemes"] == {
        "jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "botToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "A bot's token (imb_...), as on /ws/bot.",
        },
    }


def test_a_bot_token_opens_only_the_media_endpoints(schema: dict) -> None:
    """What a bot backend calls over HTTP (upload a file to send, refresh a file's links)."""
    with_bot_token = {
        (path, method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if {"botToken": []} in operation.get("security", [])
    }
    assert with_bot_token == {("/api/uploads", "post"), ("/api/attachments/{attachment_id}", "get")}


def test_schema_as_json_is_the_same_document(schema: dict) -> None:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    assert json.loads(response.content) == schema


def test_url_walker_sees_the_api() -> None:
    # Guards the comparison below against a walker that silently finds nothing.
    routes = api_routes()
    assert routes["/api/health"] == {"get"}
    assert routes["/api/users/{user_id}"] == {"get"}
    assert routes["/api/users/me"] == {"get", "patch"}
    assert "/api/schema/" not in routes and "/api/docs/" not in routes


def test_schema_paths_are_exactly_the_api_routes(schema: dict) -> None:
    assert set(schema["paths"]) == set(api_routes())


def test_schema_operations_are_exactly_the_view_methods(schema: dict) -> None:
    documented = {path: set(item) & OPERATIONS for path, item in schema["paths"].items()}
    assert documented == api_routes()


def test_every_operation_documents_its_success_and_path_parameters(schema: dict) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in OPERATIONS:
                continue
            assert any(code.startswith("2") for code in operation["responses"]), (path, method)
            in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert in_path == set(re.findall(r"\{(\w+)\}", path)), (path, method)


def test_spectacular_validates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    # Raises (a non-zero exit from manage.py) on any generator warning or validation error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    generated = yaml.safe_load(target.read_text())
    assert set(generated["paths"]) == set(api_routes())


@pytest.mark.django_db  # closing a response closes old connections: one an earlier test left must be allowed
def test_swagger_ui_is_served_with_local_assets() -> None:
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', page)
    # Its own setup script is a file too (the Content-Security-Policy forbids inline scripts).
    assert scripts[-1] == "/api/docs/?script="
    assert scripts[:-1] and all(src.startswith("/static/drf_spectacular_sidecar/") for src in scripts[:-1])
    for src in scripts:
        asset = client.get(src)
        assert asset.status_code == 200, src
        asset.close()
    setup = client.get("/api/docs/?script=")
    assert setup["Content-Type"] == "application/javascript"
    assert '"/api/schema/"' in setup.content.decode()


# ---- media (issue 18): the upload form, fresh links, attachment_ids and the attachment object ----

ATTACHMENT_KEYS = {
    "id",
    "kind",
    "name",
    "size",
    "mime",
    "width",
    "height",
    "duration",
    "waveform",
    "thumbnail",
    "url",
}


def component(schema: dict, ref: dict) -> dict:
    """The component a {"$ref": "#/components/schemas/X"} names."""
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def success(schema: dict, operation: dict, status: str) -> dict:
    return component(schema, operation["responses"][status]["content"]["application/json"]["schema"])


def test_schema_documents_the_upload_form(schema: dict) -> None:
    upload = schema["paths"]["/api/uploads"]["post"]
    assert set(upload["requestBody"]["content"]) == {"multipart/form-data"}
    form = component(schema, upload["requestBody"]["content"]["multipart/form-data"]["schema"])
    assert form["required"] == ["file"]
    fields = form["properties"]
    assert set(fields) == {"file", "kind", "duration", "waveform"}
    assert fields["file"] == {"type": "string", "format": "binary"}
    assert component(schema, fields["kind"]["allOf"][0])["enum"] == ["voice"]
    assert (fields["duration"]["type"], fields["duration"]["minimum"], fields["duration"]["maximum"]) == (
        "number",
        0,
        86400,
    )
    assert fields["waveform"]["type"] == "string"
    assert success(schema, upload, "201") == schema["components"]["schemas"]["AttachmentOut"]
    for status in ("400", "413", "429"):
        assert upload["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def test_schema_documents_the_attachment_object_and_fresh_links(schema: dict) -> None:
    attachment = schema["components"]["schemas"]["AttachmentOut"]
    assert set(attachment["properties"]) == set(attachment["required"]) == ATTACHMENT_KEYS
    assert component(schema, attachment["properties"]["kind"])["enum"] == ["image", "video", "voice", "file"]
    nullable = {key for key, field in attachment["properties"].items() if field.get("nullable")}
    assert nullable == {"width", "height", "duration", "waveform", "thumbnail"}
    fresh = schema["paths"]["/api/attachments/{attachment_id}"]["get"]
    assert success(schema, fresh, "200") == attachment
    assert "404" in fresh["responses"]


def test_schema_documents_attachments_on_messages(schema: dict) -> None:
    post = schema["paths"]["/api/chats/{chat_id}/messages"]["post"]
    body = component(schema, post["requestBody"]["content"]["application/json"]["schema"])
    assert body["properties"]["attachment_ids"] == {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "description": body["properties"]["attachment_ids"]["description"],
    }
    assert "content" not in body.get("required", [])  # a caption beside files may be left out
    message = success(schema, post, "201")
    assert message["properties"]["attachments"]["type"] == "array"
    assert message["properties"]["attachments"]["items"] == {"$ref": "#/components/schemas/AttachmentOut"}
    assert "attachments" in message["required"]
    kinds = component(schema, message["properties"]["message_type"])["enum"]
    assert {"video", "voice"} <= set(kinds)
