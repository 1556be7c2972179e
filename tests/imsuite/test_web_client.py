"""The web client's page: served at "/", in the browser's language (English or Simplified Chinese)
or the one chosen with the switch, with its JavaScript catalog; every string translated."""

import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_the_page_loads_the_modules_and_the_catalog() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="en">' in page
    assert '<script src="/jsi18n/"></script>' in page
    assert '<script type="module" src="/static/app/main.js"></script>' in page
    assert 'href="/api/docs/"' in page and 'href="/admin/"' in page


@pytest.mark.parametrize(
    ("accept", "lang", "sign_in"), [("en-US,en", "en", "Sign in"), ("zh-CN,zh;q=0.9", "zh-hans", "登录")]
)
def test_the_browser_language_chooses(accept: str, lang: str, sign_in: str) -> None:
    page = Client(HTTP_ACCEPT_LANGUAGE=accept).get("/").content.decode()
    assert f'<html lang="{lang}">' in page
    assert f'data-testid="signin-submit">{sign_in}</button>' in page


def test_the_switch_overrides_the_browser() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert '<html lang="zh-hans">' in client.get("/").content.decode()


def test_the_javascript_catalog_is_translated() -> None:
    catalog = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get("/jsi18n/").content.decode()
    assert r'"typing\u2026": "\u6b63\u5728\u8f93\u5165\u2026"' in catalog  # typing… -> 正在输入…


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_is_translated_and_compiled(domain: str) -> None:
    """The .mo files are committed (a fresh clone needs no gettext) and agree with the .po files."""
    po = (LOCALE / f"{domain}.po").read_text()
    entries = re.findall(
        r'^msgid "(.+)"\n(?:msgid_plural "(.*)"\n)?msgstr(?:\[0\])? "(.*)"$', po, re.MULTILINE
    )
    assert entries
    assert [msgid for msgid, _plural, msgstr in entries if not msgstr] == []
    with (LOCALE / f"{domain}.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for msgid, plural, msgstr in entries:
        assert (compiled.ngettext(msgid, plural, 1) if plural else compiled.gettext(msgid)) == msgstr
