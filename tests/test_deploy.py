"""Static checks of the production deployment files (docker-compose.yml, Dockerfile, .dockerignore).

No Docker engine is needed: the files are parsed and compared with what imsuite/settings.py reads."""

import ast
import ipaddress
import json
import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings

from imsuite.body_limit import MULTIPART_SLACK, UPLOAD_PATHS
from imsuite.shutdown import HARD_STOP_SECONDS
from media.serving import serving_headers

ROOT = Path(__file__).resolve().parent.parent
MIGRATE = "python manage.py migrate --noinput"
DAPHNE = "daphne -b 0.0.0.0 -p 8080 imsuite.asgi:application"
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
REQUIRED = r"\$\{%s:\?[^}]+\}"  # ${NAME:?message}: compose refuses to start while NAME is unset


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def app(compose: dict) -> dict:
    return compose["services"]["app"]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments) pairs, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def settings_env_names() -> set[str]:
    """Names imsuite/settings.py reads: os.environ.get("X"), os.environ["X"], env_bool("X"), env_list("X")."""
    tree = ast.parse((ROOT / "imsuite" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in {"os.environ.get", "os.getenv", "env_bool", "env_list"}:
                names.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation (${X}, ${X:-default}, ${X-default}, ${X:?error}, ${X?error})."""

    def substitute(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        unset = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in {":?", "?"} and unset:
            raise LookupError(f"{name}: {arg}")
        if op in {":-", "-"} and unset:
            return arg
        return current or ""

    return INTERPOLATION.sub(substitute, value)


def command_text(command: str | list[str]) -> str:
    """A compose command or Dockerfile CMD as one shell line (the text `sh -c` runs, if any)."""
    if isinstance(command, str):
        command = json.loads(command) if command.lstrip().startswith("[") else shlex.split(command)
    if command[:2] in (["sh", "-c"], ["/bin/sh", "-c"]):
        return command[2]
    return shlex.join(command)


def assert_migrates_then_serves(text: str) -> None:
    assert MIGRATE in text and DAPHNE in text, text
    between = text[text.index(MIGRATE) + len(MIGRATE) : text.index(DAPHNE)]
    # "&&": daphne starts only after migrations succeeded.
    assert between.strip() in {"&&", "&& exec"}, text


def test_services_and_their_images(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "seaweedfs",
        "migrate",
        "media-bucket",
        "app",
        "nginx",
        "bots",
        "timers",
    }
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["nginx"]["image"] == "nginx:1.27"
    assert re.fullmatch(r"chrislusf/seaweedfs:\d+\.\d+", services["seaweedfs"]["image"])  # pinned
    for name in ("migrate", "media-bucket", "app", "bots", "timers"):
        assert services[name]["build"] in (".", {"context": ".", "dockerfile": "Dockerfile"})
    for name in ("postgres", "redis"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1


def test_replicas_start_after_migrations_and_a_healthy_redis(compose: dict, app: dict) -> None:
    assert compose["services"]["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert app["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "media-bucket": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }
    assert interpolate(str(app["deploy"]["replicas"]), {}) == "2"
    assert interpolate(str(app["deploy"]["replicas"]), {"APP_REPLICAS": "4"}) == "4"


def test_nginx_publishes_8080_and_proxies_websockets_to_the_replicas(compose: dict, app: dict) -> None:
    nginx = compose["services"]["nginx"]
    assert nginx["ports"] == ["8080:80"] and "ports" not in app
    assert nginx["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert nginx["depends_on"] == {"app": {"condition": "service_healthy"}}
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server app:8080 resolve;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert conf.count("{") == conf.count("}")


def test_the_replicas_believe_proxy_headers_from_nginx_only(compose: dict, app: dict) -> None:
    nginx_address = compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    [subnet] = [pool["subnet"] for pool in compose["networks"]["default"]["ipam"]["config"]]
    assert ipaddress.ip_address(nginx_address) in ipaddress.ip_network(subnet)
    assert app["environment"]["TRUSTED_PROXIES"] == f"{nginx_address}/32"
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "--proxy-headers" not in " ".join(app["command"])  # daphne's own parsing believes anyone


def test_postgres_data_is_a_named_volume(compose: dict) -> None:
    volumes = compose["services"]["postgres"]["volumes"]
    named = [v.split(":", 1)[0] for v in volumes if v.endswith(":/var/lib/postgresql/data")]
    assert len(named) == 1 and not named[0].startswith((".", "/"))
    assert named[0] in compose["volumes"]


def test_every_app_variable_is_read_by_settings(app: dict) -> None:
    env = app["environment"]
    assert isinstance(env, dict)
    read = settings_env_names()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"} <= set(env)
    assert set(env) - read == set()


def test_a_replica_is_given_the_time_of_its_graceful_stop(app: dict) -> None:
    """docker stops a replica with SIGTERM, then SIGKILL after stop_grace_period: the graceful stop
    (SHUTDOWN_GRACE_SECONDS, then at most HARD_STOP_SECONDS) must end before."""
    grace = float(app["environment"]["SHUTDOWN_GRACE_SECONDS"])
    period = re.fullmatch(r"(\d+)s", app["stop_grace_period"])
    assert period is not None, app["stop_grace_period"]
    assert int(period.group(1)) > grace + HARD_STOP_SECONDS
    assert app.get("stop_signal", "SIGTERM") == "SIGTERM"


def test_settings_parser_finds_the_known_names() -> None:
    # Guards the AST walk above: if it found nothing, the subset check would be meaningless.
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SQLITE_PATH"} <= (
        settings_env_names()
    )


def test_urls_point_at_the_compose_services(compose: dict, app: dict) -> None:
    env = {"SECRET_KEY": "k", "POSTGRES_PASSWORD": "pw"}
    database = urlsplit(interpolate(app["environment"]["DATABASE_URL"], env))
    assert database.scheme in {"postgres", "postgresql"}
    assert database.hostname == "postgres" and database.hostname in compose["services"]
    assert database.port in (None, 5432)
    postgres_env = compose["services"]["postgres"]["environment"]
    assert database.username == postgres_env["POSTGRES_USER"]
    assert database.password == "pw"
    assert database.path == "/" + postgres_env["POSTGRES_DB"]
    redis = urlsplit(app["environment"]["REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port, redis.path) == ("redis", "redis", 6379, "/0")
    assert redis.hostname in compose["services"]


def test_allowed_hosts_has_a_default(app: dict) -> None:
    assert interpolate(app["environment"]["ALLOWED_HOSTS"], {}) == "localhost,127.0.0.1"
    assert interpolate(app["environment"]["ALLOWED_HOSTS"], {"ALLOWED_HOSTS": "a.example"}) == "a.example"


def test_secrets_come_from_the_host_environment(compose: dict, app: dict) -> None:
    assert re.fullmatch(REQUIRED % "SECRET_KEY", app["environment"]["SECRET_KEY"])
    postgres_env = compose["services"]["postgres"]["environment"]
    assert re.fullmatch(REQUIRED % "POSTGRES_PASSWORD", postgres_env["POSTGRES_PASSWORD"])
    password = app["environment"]["DATABASE_URL"].split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[1]
    assert re.fullmatch(REQUIRED % "POSTGRES_PASSWORD", password)
    # Nothing secret-looking anywhere in the file is a literal.
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN|_KEY", name):
                assert re.fullmatch(REQUIRED % name, str(value)), name


def test_compose_refuses_to_start_without_the_secrets(app: dict) -> None:
    with pytest.raises(LookupError, match="SECRET_KEY"):
        interpolate(app["environment"]["SECRET_KEY"], {"SECRET_KEY": ""})
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        interpolate(app["environment"]["DATABASE_URL"], {"SECRET_KEY": "k"})


def test_compose_migrates_once_and_the_replicas_serve(compose: dict, app: dict) -> None:
    assert compose["services"]["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert compose["services"]["migrate"]["environment"] == app["environment"]
    assert app["command"][:1] == ["daphne"] and "imsuite.asgi:application" in app["command"]


def test_dockerfile_builds_a_non_root_image_that_migrates_then_serves(
    dockerfile: list[tuple[str, str]],
) -> None:
    instructions = dict(dockerfile)  # the last of each instruction wins, as in Docker
    assert [args for op, args in dockerfile if op == "FROM"] == ["python:3.11-slim"]
    assert any(
        re.search(r"\bpip install (?:\S+ )*\.(?:\s|$)", args) for op, args in dockerfile if op == "RUN"
    )
    user = instructions["USER"].split(":", 1)[0]
    assert user not in {"root", "0"}
    assert [op for op, _ in dockerfile].index("USER") > max(
        i for i, (op, _) in enumerate(dockerfile) if op == "RUN"
    )
    assert_migrates_then_serves(command_text(instructions["CMD"]))


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    assert {".git", ".venv", "var", "__pycache__"} <= ignored


def test_workers_run_the_bot_bridge_and_the_timers_on_the_shared_layer(compose: dict) -> None:
    """Reverse-mode bots and timed jobs need the same database and Redis as the app."""
    services = compose["services"]
    assert services["bots"]["command"] == ["python", "manage.py", "runbots"]
    assert services["timers"]["command"] == ["python", "manage.py", "runtimers"]
    for name in ("bots", "timers"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"] == services["app"]["environment"]["DATABASE_URL"]
        assert env["REDIS_URL"] == services["app"]["environment"]["REDIS_URL"]
        assert env["SECRET_KEY"] == "${SECRET_KEY:?set SECRET_KEY}"
        assert services[name]["depends_on"] == {"app": {"condition": "service_healthy"}}
        assert services[name]["environment"] == services["app"]["environment"]


def seaweedfs_start(compose: dict) -> str:
    """The store's start command as the container's shell gets it (compose turns $$ into $)."""
    service = compose["services"]["seaweedfs"]
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    [script] = service["command"]
    return script.replace("$$", "$")


def test_uploads_go_to_the_stacks_object_store(compose: dict, app: dict) -> None:
    env = {
        "SECRET_KEY": "k",
        "POSTGRES_PASSWORD": "pw",
        "S3_ACCESS_KEY_ID": "id",
        "S3_SECRET_ACCESS_KEY": "s",
    }
    store = {name: interpolate(str(value), env) for name, value in app["environment"].items()}
    assert store["MEDIA_STORAGE"] == "s3"
    endpoint = urlsplit(store["S3_ENDPOINT_URL"])
    assert endpoint.hostname == "seaweedfs" and endpoint.hostname in compose["services"]
    assert f"-s3.port={endpoint.port}" in seaweedfs_start(compose)
    assert store["S3_ADDRESSING_STYLE"] == "path"  # the bucket is a path, not a subdomain of "seaweedfs"
    assert (store["S3_ACCESS_KEY_ID"], store["S3_SECRET_ACCESS_KEY"]) == ("id", "s")
    assert store["S3_BUCKET"] == "imsuite-media"
    assert interpolate(app["environment"]["S3_BUCKET"], {"S3_BUCKET": "b2"}) == "b2"
    # Browsers follow presigned links to the published S3 port unless told another public address.
    assert store["S3_PUBLIC_ENDPOINT_URL"] == f"http://localhost:{endpoint.port}"
    assert compose["services"]["seaweedfs"]["ports"] == [f"{endpoint.port}:{endpoint.port}"]
    assert (
        interpolate(
            app["environment"]["S3_PUBLIC_ENDPOINT_URL"],
            {"S3_PUBLIC_ENDPOINT_URL": "https://files.example.com"},
        )
        == "https://files.example.com"
    )


def test_the_store_knows_the_apps_keys_and_nobody_else(compose: dict, app: dict, tmp_path: Path) -> None:
    """The identity file the store's start command writes (run here up to the server's start)."""
    service = compose["services"]["seaweedfs"]
    for name in ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
        assert service["environment"][name] == app["environment"][name] == f"${{{name}:?set {name}}}"
    script, _, server = seaweedfs_start(compose).partition("&& exec weed server")
    assert "-dir=/data" in server and "-s3.config=/tmp/s3.json" in server
    assert "-ip.bind=0.0.0.0" in server  # reachable from the other containers and the published port
    keys = {"S3_ACCESS_KEY_ID": "0a1b2c3d", "S3_SECRET_ACCESS_KEY": "4e5f6a7b8c9d"}
    done = subprocess.run(
        ["sh", "-c", script.replace("/tmp/s3.json", str(tmp_path / "s3.json"))],
        env={"PATH": "/usr/bin:/bin", **keys},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "s3.json").read_text())
    # One identity, with credentials: no "anonymous" identity, so the bucket is private.
    assert config == {
        "identities": [
            {
                "name": "imsuite",
                "credentials": [{"accessKey": "0a1b2c3d", "secretKey": "4e5f6a7b8c9d"}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    assert service["volumes"] == ["media-data:/data"] and "media-data" in compose["volumes"]


def test_the_bucket_is_made_before_the_app_starts(compose: dict, app: dict) -> None:
    bucket = compose["services"]["media-bucket"]
    assert bucket["command"] == ["python", "manage.py", "media_bucket"]
    assert bucket["environment"] == app["environment"]
    assert bucket["restart"] == "no"
    # It waits for the store itself (media/management/commands/media_bucket.py), so "started" is enough.
    assert bucket["depends_on"] == {"seaweedfs": {"condition": "service_started"}}
    assert app["depends_on"]["media-bucket"] == {"condition": "service_completed_successfully"}


def nginx_size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def test_nginx_lets_uploads_through_up_to_the_apps_own_limit() -> None:
    """Past UPLOAD_MAX_BYTES (and the multipart framing) the app answers 413 with its error body;
    nginx must not refuse first with an HTML page, nor spool the body before passing it on."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    [(pattern, body)] = re.findall(r"location ~ \^(\S+)\$ \{([^}]*)\}", conf)
    assert pattern == UPLOAD_PATHS.pattern
    [size] = re.findall(r"client_max_body_size (\S+);", body)
    assert nginx_size(size) >= settings.IMSUITE["UPLOAD_MAX_BYTES"] + MULTIPART_SLACK
    assert "proxy_request_buffering off;" in body and "proxy_pass http://imsuite;" in body
    assert re.search(r"server \{\s+listen 80;\s+client_max_body_size 1m;", conf)  # everything else


def test_the_accel_redirect_location_is_internal_and_keeps_the_safe_headers() -> None:
    snippet = (ROOT / "deploy" / "nginx-media.conf").read_text()
    assert "MEDIA_ACCEL_REDIRECT_PREFIX=/protected-media" in snippet
    [body] = re.findall(r"location /protected-media/ \{([^}]*)\}", snippet)
    assert "internal;" in body and re.search(r"alias /\S+/media/;", body)
    # The two headers an internal redirect does not carry over from the app's answer.
    headers = serving_headers("text/plain", "page.html")
    assert f"add_header X-Content-Type-Options {headers['X-Content-Type-Options']} always;" in body
    assert f'add_header Content-Security-Policy "{headers["Content-Security-Policy"]}" always;' in body
