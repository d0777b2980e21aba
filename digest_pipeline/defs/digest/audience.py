"""Who may read what: channels that opted out of every digest, and private channels the overall
digest (a wide audience) counts but does not quote unless they are on the allow list."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

NO_DIGEST_MARKER = "[no-digest]"


def opted_out_channels(channels: pd.DataFrame) -> set[str]:
    if channels.empty:
        return set()
    text = (channels["topic"].fillna("") + " " + channels["purpose"].fillna("")).str.lower()
    return set(channels.loc[text.str.contains(NO_DIGEST_MARKER, regex=False), "channel_id"])


def audience_filter(frame: pd.DataFrame, channels: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop channels that opted out with ``[no-digest]`` in their topic or purpose."""
    if channels.empty or frame.empty:
        return frame, sorted(opted_out_channels(channels)) if not channels.empty else []
    opted_out = opted_out_channels(channels)
    # The ignore: isin takes a set; pandas' annotation omits it.
    kept = frame.loc[~frame["channel_id"].isin(opted_out)]  # pyright: ignore[reportArgumentType]
    return kept, sorted(opted_out)


def hidden_channels(channels: pd.DataFrame, allow: Iterable[str] = ()) -> set[str]:
    """Private channels whose content a wide audience may not see (IDs), minus the allow list."""
    if channels.empty:
        return set()
    allowed = {a.strip().lstrip("#") for a in allow}
    private = channels.loc[channels["is_private"].fillna(False).astype(bool)]
    return {
        cid
        for cid, name in zip(private["channel_id"], private["name"], strict=True)
        if cid not in allowed and name not in allowed
    }
