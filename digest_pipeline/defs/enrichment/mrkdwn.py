"""Slack markup ("mrkdwn", rich-text blocks, attachments) → readable plain text.

Choices, so that readers of ``messages.content`` know what they are looking at:

- ``<@U123>`` / ``<@U123|old-name>`` → ``@Display Name`` from the user directory (the label Slack
  stored may be stale, so the directory wins; the label, then the raw id, are fallbacks).
- ``<#C123|name>`` / ``<#C123>`` → ``#name``.
- ``<https://x|label>`` → ``label (https://x)``: the label reads well and the URL stays available
  to people and to the LLM scorer. A label equal to the URL (or to it without its scheme) gives
  just the URL. ``<https://x>`` → ``https://x``; ``<mailto:a@b.c|a@b.c>`` → ``a@b.c``.
- ``<!here>``, ``<!channel>``, ``<!everyone>`` → ``@here`` etc.; ``<!subteam^S1|@team>`` →
  ``@team``; ``<!date^…|fallback>`` → the fallback text.
- ``&amp; &lt; &gt;`` are unescaped (Slack escapes only these three), so ``content`` is plain text:
  whoever renders it as HTML or mrkdwn again must escape it.
- Emoji stay as their names (``:fire:``): lossless, readable, and the urgency rules match on them.
  Skin-tone suffixes are dropped.
- Code blocks and inline code are kept verbatim (only entities are unescaped): no mention or link
  rewriting inside them, and mentions inside code are not counted as mentions.
- C0 control characters (except tab and newline), DEL and bidirectional overrides are removed:
  PostgreSQL rejects NUL in text, and bidi overrides can disguise text in a digest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from digest_pipeline.vocabulary import BROADCAST_MENTIONS

# One pass over the text finds every Slack token and every escaped entity.
_TOKEN_RE = re.compile(r"<([^<>\n]{1,4000})>|&(amp|lt|gt);")
_CODE_RE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_SKIN_TONE_RE = re.compile(r"::skin-tone-[2-6]:")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def _escape(text: str) -> str:
    """Escape literal text the way Slack does, so it survives a pass through the cleaner."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def strip_controls(text: str) -> str:
    """Remove control and bidi-override characters; normalize line endings."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", text)


class MrkdwnCleaner:
    """Turns Slack mrkdwn into plain text, collecting mentions on the way.

    Built once per run with the user and channel directories; :meth:`clean` is then called per
    message. Mentions come back as user ids plus ``here``/``channel``/``everyone`` and
    ``subteam:<id>``, in order of first appearance.
    """

    def __init__(
        self, users: Mapping[str, str] | None = None, channels: Mapping[str, str] | None = None
    ) -> None:
        self.users: Mapping[str, str] = users or {}
        self.channels: Mapping[str, str] = channels or {}

    def clean(self, text: str) -> tuple[str, list[str]]:
        """Return ``(plain_text, mentions)`` for one mrkdwn string."""
        if not text:
            return "", []
        text = strip_controls(text)
        if "::skin-tone-" in text:
            text = _SKIN_TONE_RE.sub(":", text)
        mentions: list[str] = []
        if "`" not in text:
            if "<" not in text and "&" not in text:
                return text.strip(), mentions
            return self._replace(text, mentions).strip(), mentions
        # Keep code verbatim: rewrite only the prose between code spans.
        parts: list[str] = []
        last = 0
        for m in _CODE_RE.finditer(text):
            parts.append(self._replace(text[last : m.start()], mentions))
            parts.append(_unescape(m.group(0)))
            last = m.end()
        parts.append(self._replace(text[last:], mentions))
        return "".join(parts).strip(), mentions

    def _replace(self, text: str, mentions: list[str]) -> str:
        if "<" not in text and "&" not in text:
            return text

        def sub(m: re.Match[str]) -> str:
            entity = m.group(2)
            if entity is not None:
                return _ENTITIES[entity]
            return self._token(m.group(1), mentions)

        return _TOKEN_RE.sub(sub, text)

    def _token(self, body: str, mentions: list[str]) -> str:
        target, _, label = body.partition("|")
        label = _unescape(label)
        head = target[:1]
        if head == "@":
            user_id = target[1:]
            _add(mentions, user_id)
            name = self.users.get(user_id) or label.lstrip("@") or user_id
            return f"@{name}"
        if head == "#":
            channel_id = target[1:]
            name = self.channels.get(channel_id) or label.lstrip("#") or channel_id
            return f"#{name}"
        if head == "!":
            return self._special(target[1:], label, mentions)
        url = _unescape(target)
        if url.startswith("mailto:"):
            address = url[7:]
            return address if not label or label == address else f"{label} ({address})"
        if not label or label == url or url.split("://", 1)[-1] == label:
            return url
        return f"{label} ({url})"

    def _special(self, command: str, label: str, mentions: list[str]) -> str:
        name, _, rest = command.partition("^")
        if name in BROADCAST_MENTIONS:
            _add(mentions, name)
            return f"@{name}"
        if name == "subteam":
            team_id = rest.split("^", 1)[0]
            _add(mentions, f"subteam:{team_id}")
            return label if label.startswith("@") else f"@{label or team_id}"
        if name == "date":
            if label:
                return label
            stamp = rest.split("^", 1)[0]
            try:
                return datetime.fromtimestamp(int(stamp), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
            except (ValueError, OverflowError, OSError):
                return stamp
        return label or f"@{name}"


def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _add(items: list[str], item: str) -> None:
    if item and item not in items:
        items.append(item)


# --- rich-text blocks and attachments → mrkdwn (then cleaned by the same code path) ----------


def _rich_element(el: Mapping[str, Any]) -> str:
    kind = el.get("type")
    if kind == "text":
        text = _escape(str(el.get("text") or ""))
        style = el.get("style")
        if isinstance(style, Mapping) and style.get("code"):
            return f"`{text}`"
        return text
    if kind == "link":
        url = str(el.get("url") or "")
        text = el.get("text")
        return f"<{url}|{_escape(str(text))}>" if text else f"<{url}>"
    if kind == "user":
        return f"<@{el.get('user_id', '')}>"
    if kind == "channel":
        return f"<#{el.get('channel_id', '')}>"
    if kind == "usergroup":
        return f"<!subteam^{el.get('usergroup_id', '')}>"
    if kind == "broadcast":
        return f"<!{el.get('range', 'here')}>"
    if kind == "emoji":
        return f":{el.get('name', '')}:"
    if kind == "date":
        return _escape(str(el.get("fallback") or el.get("timestamp") or ""))
    if kind == "color":
        return str(el.get("value") or "")
    return _escape(str(el.get("text") or ""))


def _rich_block(el: Mapping[str, Any], out: list[str], depth: int = 0) -> None:
    if depth > 8:  # hostile nesting
        return
    kind = el.get("type")
    children = el.get("elements")
    if not isinstance(children, list):
        children = []
    if kind == "rich_text_section":
        out.append("".join(_rich_element(c) for c in children if isinstance(c, Mapping)))
    elif kind == "rich_text_preformatted":
        body = "".join(_rich_element(c) for c in children if isinstance(c, Mapping))
        out.append(f"```{body}```")
    elif kind == "rich_text_quote":
        body = "".join(_rich_element(c) for c in children if isinstance(c, Mapping))
        out.append("\n".join(f"> {line}" for line in body.split("\n")))
    elif kind == "rich_text_list":
        ordered = el.get("style") == "ordered"
        indent = "  " * int(el.get("indent") or 0) if str(el.get("indent", 0)).isdigit() else ""
        for i, item in enumerate(children, 1):
            if isinstance(item, Mapping):
                sub: list[str] = []
                _rich_block(item, sub, depth + 1)
                bullet = f"{i}." if ordered else "-"
                out.append(f"{indent}{bullet} {''.join(sub)}")
    else:
        for child in children:
            if isinstance(child, Mapping):
                _rich_block(child, out, depth + 1)


def blocks_to_mrkdwn(blocks: Iterable[Any]) -> str:
    """Text of ``rich_text``, ``section``, ``header`` and ``context`` blocks, as mrkdwn."""
    out: list[str] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "rich_text":
            parts: list[str] = []
            for el in block.get("elements") or ():
                if isinstance(el, Mapping):
                    _rich_block(el, parts)
            out.append("\n".join(p for p in parts if p))
        elif kind in ("section", "header"):
            text = block.get("text")
            if isinstance(text, Mapping) and text.get("text"):
                body = str(text["text"])
                out.append(body if text.get("type") == "mrkdwn" else _escape(body))
            fields = block.get("fields") or ()
            out.extend(str(f["text"]) for f in fields if isinstance(f, Mapping) and f.get("text"))
        elif kind == "context":
            elements = block.get("elements") or ()
            out.extend(str(e["text"]) for e in elements if isinstance(e, Mapping) and e.get("text"))
    return "\n".join(p for p in out if p)


def attachments_to_mrkdwn(attachments: Iterable[Any]) -> str:
    """Pretext, title, text and fields of each attachment; its ``fallback`` when it has none."""
    out: list[str] = []
    for att in attachments:
        if not isinstance(att, Mapping):
            continue
        parts = [str(att[k]) for k in ("pretext", "title", "text") if att.get(k)]
        parts.extend(
            f"{f.get('title', '')}: {f.get('value', '')}".strip(": ")
            for f in att.get("fields") or ()
            if isinstance(f, Mapping) and (f.get("title") or f.get("value"))
        )
        if not parts and isinstance(att.get("blocks"), list):
            blocks_text = blocks_to_mrkdwn(att["blocks"])
            if blocks_text:
                parts.append(blocks_text)
        if not parts and att.get("fallback"):
            parts.append(str(att["fallback"]))
        out.extend(parts)
    return "\n".join(out)


def files_to_text(files: Iterable[Any]) -> str:
    """``[file] name`` for each shared file: what is left of a message with only attachments."""
    names = [
        str(f.get("title") or f.get("name"))
        for f in files
        if isinstance(f, Mapping) and (f.get("title") or f.get("name"))
    ]
    return "\n".join(f"[file] {_escape(n)}" for n in names)


def message_mrkdwn(msg: Mapping[str, Any]) -> str:
    """The mrkdwn to show for a message: ``text``, else blocks, else attachments, else files."""
    text = msg.get("text")
    if isinstance(text, str) and text.strip():
        return text
    blocks = msg.get("blocks")
    if isinstance(blocks, list) and blocks:
        body = blocks_to_mrkdwn(blocks)
        if body.strip():
            return body
    attachments = msg.get("attachments")
    if isinstance(attachments, list) and attachments:
        body = attachments_to_mrkdwn(attachments)
        if body.strip():
            return body
    files = msg.get("files")
    if isinstance(files, list) and files:
        return files_to_text(files)
    return ""
