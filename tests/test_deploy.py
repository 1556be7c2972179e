"""Static checks of the production deployment files (docker-compose.yml, Dockerfile, .dockerignore).

No Docker engine is needed: the files are parsed and compared with what imsuite/settings.py reads."""

import ast
import ipaddress
import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

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
    assert set(services) == {"postgres", "redis", "migrate", "app", "nginx", "bots", "timers"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["nginx"]["image"] == "nginx:1.27"
    for name in ("migrate", "app", "bots", "timers"):
        assert services[name]["build"] in (".", {"context": ".", "dockerfile": "Dockerfile"})
    for name in ("postgres", "redis"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1


def test_replicas_start_after_migrations_and_a_healthy_redis(compose: dict, app: dict) -> None:
    assert compose["services"]["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert app["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
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
