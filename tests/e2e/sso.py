"""A REAL OpenID provider on loopback for the single sign-on tests: panva's oidc-provider (OpenID
Certified), run by Node.js from tests/oidc_provider (its package-lock.json; `npm ci` here when
node_modules is missing, so a fresh clone needs nothing else), and an IM-Suite daphne configured
for it. The provider's development login page accepts any password; the login typed is the subject.

Without node and npm the tests fail under CI=true and are skipped, with the reason shown, elsewhere.
"""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin

import pytest
import requests
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore

from tests.e2e.conftest import ROOT, database_env, run_daphne, run_listening, wait_until_the_database_is_idle

PROVIDER_DIR = ROOT / "tests" / "oidc_provider"
NPM_CI_TIMEOUT_SECONDS = 300
HTTP_TIMEOUT_SECONDS = 10
CLIENT_ID, CLIENT_SECRET = "imsuite-tests", "imsuite-tests-client-secret"
PROVIDER_NAME = "Loopback ID"
APP_REDIRECT = "imsuite-test://signed-in"  # a mobile app's registered redirect URI
# The provider's people, by subject (the login typed on its login page).
ACCOUNTS = {
    "alice-sub": {
        "preferred_username": "alice",
        "name": "Alice Liddell",
        "email": "alice@example.test",
        "email_verified": True,
    },
    "namesake-sub": {"preferred_username": "alice", "name": "Another Alice", "email": "a2@example.test"},
    "taken-sub": {"preferred_username": "taker", "email": "owner@example.test", "email_verified": True},
}


def node_tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, npm
    reason = "node and npm are needed for the OpenID provider of the single sign-on tests"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def oidc_issuer(e2e_log_dir: Path) -> Iterator[str]:
    """The provider's issuer URL, http://127.0.0.1:<port>."""
    node, npm = node_tools()
    if not (PROVIDER_DIR / "node_modules" / ".package-lock.json").is_file():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=PROVIDER_DIR,
            check=True,
            timeout=NPM_CI_TIMEOUT_SECONDS,
        )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OIDC_TEST_CLIENT_ID": CLIENT_ID,
        "OIDC_TEST_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_TEST_ACCOUNTS": json.dumps(ACCOUNTS),
    }

    def command(port: int) -> list[str]:
        return [node, "provider.mjs", str(port)]

    with run_listening(command, env, e2e_log_dir / "oidc-provider-{port}.log", cwd=PROVIDER_DIR) as port:
        yield f"http://127.0.0.1:{port}"


def sso_env(issuer: str) -> dict[str, str]:
    return {
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "OIDC_APP_REDIRECT_URIS": APP_REDIRECT,
        "SECRET_KEY": settings.SECRET_KEY,  # the test reads the server's sessions (the stored state)
    }


@pytest.fixture(scope="session")
def sso_server(django_db_setup: None, e2e_log_dir: Path, oidc_issuer: str) -> Iterator[str]:
    """One IM-Suite daphne for the session with single sign-on through the loopback provider."""
    with run_daphne({**database_env(), **sso_env(oidc_issuer)}, e2e_log_dir) as url:
        yield url


@pytest.fixture
def sso_url(transactional_db: None, sso_server: str) -> Iterator[str]:
    """Like daphne_url: what the server writes is committed, then flushed after the test."""
    yield sso_server
    wait_until_the_database_is_idle()


@dataclass
class Flow:
    """One browser's way through the sign-in: its cookies (the server's session and the provider's)."""

    base_url: str
    http: requests.Session

    def get(self, url: str) -> requests.Response:
        return self.http.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS)

    def start(self, query: str = "") -> str:
        """/oidc/start/; the provider's authorization URL it redirects to."""
        answer = self.get(f"{self.base_url}/oidc/start/{query}")
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def through_provider(self, authorization_url: str, login: str) -> str:
        """Sign in as `login` on the provider's login page and consent; the callback URL it sends
        the browser back to (not yet followed)."""
        url, submitted = authorization_url, []
        while not url.startswith(f"{self.base_url}/oidc/callback/"):
            answer = self.get(url)
            if answer.status_code in (302, 303):
                url = urljoin(url, answer.headers["Location"])
                continue
            assert answer.status_code == 200, (url, answer.status_code, answer.text[:500])
            action = unescape(re.search(r'<form[^>]*action="([^"]+)"', answer.text).group(1))
            prompt = re.search(r'name="prompt" value="(\w+)"', answer.text).group(1)
            submitted.append(prompt)
            assert submitted.count(prompt) == 1, f"the provider asked for {prompt} twice"
            fields = (
                {"prompt": prompt, "login": login, "password": "any"}
                if prompt == "login"
                else {"prompt": prompt}
            )
            posted = self.http.post(
                urljoin(url, action), data=fields, allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS
            )
            assert posted.status_code in (302, 303), posted.text[:500]
            url = urljoin(url, posted.headers["Location"])
        return url

    def callback(self, url: str, lands_on: str = "/") -> dict[str, str]:
        """Follow the callback; the fragment of the page it ends on (oidc-code or oidc-error)."""
        return landing(self.get(url), lands_on)

    def exchange(self, code: str, **more: str) -> requests.Response:
        return self.http.post(
            f"{self.base_url}/api/auth/oidc/exchange",
            json={"code": code, **more},
            timeout=HTTP_TIMEOUT_SECONDS,
        )

    def session(self) -> SessionStore:
        """The server's session of this browser (where the state, nonce and verifier wait)."""
        return SessionStore(self.http.cookies["sessionid"])

    def sign_in(self, login: str) -> dict[str, str]:
        """The whole flow for `login`; the callback's fragment."""
        return self.callback(self.through_provider(self.start(), login))


def landing(answer: requests.Response, lands_on: str) -> dict[str, str]:
    """The fragment of a redirect to `lands_on` (the web client's "/" or an app's redirect URI)."""
    assert answer.status_code == 302, answer.text
    target, _, fragment = answer.headers["Location"].partition("#")
    assert target == lands_on, answer.headers["Location"]
    return {key: value for key, [value] in parse_qs(fragment).items()}


def new_flow(base_url: str) -> Flow:
    return Flow(base_url, requests.Session())
