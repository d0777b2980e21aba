"""Token counting, offline: tiktoken when its encoding is already on disk, else an estimate.

tiktoken downloads encodings on first use; a pipeline run must never block on that.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable

ENCODING = "o200k_base"  # gpt-4o / gpt-4.1 family
_ENCODING_URL = f"https://openaipublic.blob.core.windows.net/encodings/{ENCODING}.tiktoken"


def _tiktoken_cache_path(url: str = _ENCODING_URL) -> str | None:
    """Where tiktoken keeps a downloaded encoding (same rule as ``tiktoken.load``)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        import tempfile

        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    return os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())


def estimate_tokens(text: str) -> int:
    """About 4 characters a token for Latin text, about one a token for CJK and emoji."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / 4)
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 4 + (len(text) - ascii_chars) * 0.9)


class TokenCounter:
    """Counts tokens offline: exact with a cached tiktoken encoding, estimated otherwise."""

    def __init__(self, *, use_tiktoken: bool = True) -> None:
        self._encode: Callable[[str], list[int]] | None = None
        self.method = "estimate"
        path = _tiktoken_cache_path() if use_tiktoken else None
        if path and os.path.exists(path):
            try:
                import tiktoken

                self._encode = tiktoken.get_encoding(ENCODING).encode_ordinary
                self.method = "tiktoken"
            except Exception:  # a corrupt cache or another tiktoken error: estimate instead
                self._encode = None

    def count(self, text: str) -> int:
        if self._encode is not None:
            return len(self._encode(text))
        return estimate_tokens(text)
