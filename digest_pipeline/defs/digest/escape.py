"""One escaping layer per output format: Slack mrkdwn, Markdown, HTML — and safe link targets.

Everything a digest shows comes from Slack (message text, channel and user names, permalinks
built from IDs) or from an LLM: untrusted. Each renderer passes every value through the function
of its format, and every link target through :func:`safe_url`:

* :func:`mrkdwn` escapes Slack's three control characters (``& < >``), so no ``<!channel>``,
  ``<@U…>`` or ``<url|label>`` can be smuggled in; :func:`mrkdwn_link` builds a link whose target
  cannot close the ``<…|…>`` syntax.
* :func:`markdown` turns text into inert Markdown: HTML (``<script>``, ``<img>``), links and
  images (``[x](javascript:…)``), code spans and table pipes become character references, which
  every Markdown renderer shows as the characters typed. Whitespace collapses to one line.
  :func:`markdown_link` links only to an http(s) URL.
* :func:`html_text` is :func:`html.escape`; :func:`html_link` links only to an http(s) URL.

:func:`safe_url` accepts http and https URLs with a host, and percent-encodes the characters that
could end a link in any of the three formats (whitespace, quotes, ``<>[]()|``).
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlsplit

MAX_URL_CHARS = 2_000
_SCHEMES = frozenset({"http", "https"})
# Kept as typed in a URL; everything else (spaces, quotes, <>, [], (), |, backslash) is encoded.
_URL_SAFE = ":/?#&=%.,~+-_@!$*;"

_MARKDOWN = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "[": "&#91;",
        "]": "&#93;",
        "`": "&#96;",
        "|": "&#124;",
        "\\": "&#92;",
        "*": "&#42;",
        "!": "&#33;",
    }
)


def safe_url(url: object) -> str | None:
    """``url`` fit to be a link target in mrkdwn, Markdown and HTML, or None (not http(s), no
    host, too long, not a string)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SCHEMES or not parts.netloc:
        return None
    return quote(url, safe=_URL_SAFE)


def mrkdwn(text: object) -> str:
    """Text for Slack mrkdwn: shown as typed, never a mention, a broadcast or a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_link(url: object, label: object) -> str:
    """``<url|label>``, or the label alone when the URL is not a safe http(s) link."""
    text = mrkdwn(label).replace("|", "/")
    target = safe_url(url)
    return f"<{target}|{text}>" if target else text


def markdown(text: object) -> str:
    """Text as inert Markdown on one line (also safe inside a table cell)."""
    return " ".join(str(text).split()).translate(_MARKDOWN)


def markdown_link(url: object, label: object) -> str:
    """``[label](url)``, or the label alone when the URL is not a safe http(s) link."""
    text = markdown(label)
    target = safe_url(url)
    return f"[{text}]({target})" if target else text


def html_text(text: object) -> str:
    return html.escape(str(text))


def html_link(url: object, label: object) -> str:
    """``<a href>`` to a safe http(s) URL, or the escaped label alone."""
    target = safe_url(url)
    text = html.escape(str(label))
    return f'<a href="{html.escape(target)}">{text}</a>' if target else text
