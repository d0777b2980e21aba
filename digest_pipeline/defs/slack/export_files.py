"""Reading an untrusted Slack workspace export's files: where they are, and within which sizes.

An export is a ZIP or an unzipped folder. Every file is size-checked before it is read — from the
ZIP directory or the file system — and again while it is read in chunks, since a ZIP directory
can lie (:class:`ExportLimits`); an oversized file raises :class:`FileTooLarge`, never read whole.
Day files are decoded one message at a time (:func:`json_list_items`), so each message's size
is known without serialising it again.
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class ExportLimits:
    """Size limits on an untrusted export.

    ``max_file_bytes`` bounds each file (uncompressed); a real channel-day is rarely past a few
    MB, and a file parses to about 8 times its size in Python objects. ``max_message_bytes``
    bounds one message's JSON; Slack caps text at 40,000 characters, and blocks, files and
    attachments stay far below a MiB.
    """

    max_file_bytes: int = 32 << 20
    max_message_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if self.max_file_bytes <= 0 or self.max_message_bytes <= 0:
            raise ValueError("export size limits must be positive")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class FileTooLarge(ValueError):
    """A file past the size limit, by its declared size or by the bytes read."""


def read_bounded(stream: _Readable, limit: int) -> bytes:
    """All of ``stream``, read in chunks; raises ``ValueError`` once it passes ``limit`` bytes,
    whatever size its container declared."""
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(min(_READ_CHUNK, limit - total + 1)):
        total += len(chunk)
        if total > limit:
            raise FileTooLarge(f"too large: more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class ExportFormatError(ValueError):
    """A file in a workspace export is missing or malformed; ``file`` is its path in the export."""

    def __init__(self, file: str, reason: str, *, export: str | None = None) -> None:
        self.file = file
        self.reason = reason
        where = f" (export {export})" if export else ""
        super().__init__(f"Slack export file {file}{where}: {reason}")


class ExportFiles:
    """Read-only access to the export's files by their path inside the export."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_dir():
            if not (path / "channels.json").is_file():
                raise ExportFormatError(
                    "channels.json",
                    "missing: a Slack export folder holds channels.json at its top level",
                    export=str(path),
                )
            self._names = sorted(
                p.relative_to(path).as_posix() for p in path.rglob("*.json") if p.is_file()
            )
        elif path.is_file() and zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
            if "channels.json" not in names:
                # A re-zipped export folder puts everything under one top-level directory.
                nested = [n for n in names if n.count("/") == 1 and n.endswith("/channels.json")]
                if len(nested) != 1:
                    raise ExportFormatError(
                        "channels.json",
                        "missing: a Slack export ZIP holds channels.json at its top level",
                        export=str(path),
                    )
                self._prefix = nested[0].removesuffix("channels.json")
            self._names = sorted(
                n.removeprefix(self._prefix) for n in names if n.startswith(self._prefix)
            )
        else:
            raise ExportFormatError(
                str(path),
                "not a Slack workspace export: expected a ZIP file or a folder with channels.json",
            )

        self._name_set = set(self._names)

    def names(self) -> list[str]:
        return self._names

    def exists(self, name: str) -> bool:
        return name in self._name_set

    def size(self, name: str) -> int:
        """The uncompressed size the ZIP directory (or the file system) declares."""
        if self._zip is not None:
            return self._zip.getinfo(self._prefix + name).file_size
        return (self.path / name).stat().st_size

    def read(self, name: str, limit: int) -> bytes:
        """The file's bytes, read in chunks and never past ``limit`` (``ValueError`` if it is
        longer). Python's ``zipfile`` also stops at the declared size and checks the CRC, so a
        directory that understates a member makes it unreadable rather than large."""
        if self._zip is not None:
            with self._lock, self._zip.open(self._prefix + name) as member:
                return read_bounded(member, limit)
        with (self.path / name).open("rb") as file:
            return read_bounded(file, limit)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def json_list_items(text: str) -> Iterator[tuple[int, int, int, Any]]:
    """``(index, start, end, value)`` for each item of the JSON list ``text``, decoded one at a
    time, so each item's size is known without serialising it again."""
    decoder = json.JSONDecoder()
    pos = _WHITESPACE.match(text).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "[":
        raise ValueError("expected a JSON list of messages")
    pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
    index = 0
    if text[pos : pos + 1] == "]":
        pos += 1
    else:
        while True:
            value, end = decoder.raw_decode(text, pos)
            yield index, pos, end, value
            index += 1
            pos = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
            separator = text[pos : pos + 1]
            pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            if separator == "]":
                break
            if separator != ",":
                raise ValueError(f"expected ',' or ']' at character {pos}")
    if pos < len(text) and text[pos:].strip(" \t\n\r"):
        raise ValueError(f"extra data after the list at character {pos}")
