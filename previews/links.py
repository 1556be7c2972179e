"""The links of a message's text that get a preview: http(s) URLs, the first MAX_PER_MESSAGE
distinct ones, trailing punctuation left to the sentence."""

import re

MAX_PER_MESSAGE = 3  # a message with many links shows the first three, like most chat apps
MAX_URL_LENGTH = 2048
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}>"


def message_urls(text: str) -> list[str]:
    """The URLs to preview, in order of appearance. A closing bracket stays when the URL opened one
    (https://en.wikipedia.org/wiki/Foo_(bar))."""
    if "://" not in text:  # the common case, without the regular expression
        return []
    found: list[str] = []
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and url[-1] in _TRAILING and not (url[-1] == ")" and url.count("(") >= url.count(")")):
            url = url[:-1]
        if len(url) <= MAX_URL_LENGTH and "://" in url and url.split("://", 1)[1] and url not in found:
            found.append(url)
            if len(found) == MAX_PER_MESSAGE:
                break
    return found
