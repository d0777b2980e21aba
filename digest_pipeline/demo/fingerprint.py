"""A fingerprint of everything the demo workspace serves, to prove a refactor changed nothing.

    python -m digest_pipeline.demo.fingerprint [--end 2026-11-20] [--days 3]

For a few seeds and scales, with the clock fixed, it asks the workspace for ``auth.test``,
``team.info``, every channel list and channel, the users, and for every channel and UTC hour of
the days the whole ``conversations.history`` (paged) and the whole ``conversations.replies`` of
every thread in it (paged), plus :meth:`DemoWorkspace.iter_messages` and the ground truth of
every message. It prints two SHA-256 digests per workspace:

* ``content``: the messages, channels and users as served, pages joined and cursors left out;
* ``wire``: every response body as it came, cursors included.

Equal digests before and after a change mean the workspace serves exactly the same data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from digest_pipeline.demo.workspace import DemoWorkspace

# (seed, scale): the demo's default, another seed, and a larger scale (long threads are likelier)
WORKSPACES = ((7, 1.0), (3, 0.5), (11, 2.0))
CONVERSATION_TYPES = "public_channel,private_channel,mpim,im"


class _Hashes:
    def __init__(self) -> None:
        self.content = hashlib.sha256()
        self.wire = hashlib.sha256()

    def body(self, label: str, body: Mapping[str, Any]) -> None:
        self.wire.update(_dump([label, body]))

    def item(self, label: str, value: Any) -> None:
        self.content.update(_dump([label, value]))


def _dump(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def _pages(
    ws: DemoWorkspace, h: _Hashes, method: str, params: dict[str, Any], key: str
) -> Iterator[dict[str, Any]]:
    cursor = ""
    while True:
        body = ws.call(method, {**params, "cursor": cursor} if cursor else params)
        h.body(method, body)
        if not body.get("ok"):
            h.item(method, body)
            return
        yield from body[key]
        cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return


def fingerprint(seed: int, scale: float, end: datetime, days: int) -> tuple[str, str, int]:
    """``(content digest, wire digest, messages served)`` of one workspace."""
    ws = DemoWorkspace(seed=seed, scale=scale, now=end)
    h = _Hashes()
    for method in ("auth.test", "team.info"):
        body = ws.call(method, {})
        h.body(method, body)
        h.item(method, body)
    for types, exclude in (("public_channel", False), (CONVERSATION_TYPES, True)):
        params = {"types": types, "exclude_archived": exclude, "limit": 7}
        for channel in _pages(ws, h, "conversations.list", params, "channels"):
            h.item("channel", channel)
    for channel_id in ws.channel_ids:
        body = ws.call("conversations.info", {"channel": channel_id})
        h.body("conversations.info", body)
        h.item("conversations.info", body)
    for user in _pages(ws, h, "users.list", {"limit": 10}, "members"):
        h.item("user", user)
    served = 0
    start = end - timedelta(days=days)
    for channel_id in ws.channel_ids:
        hour = start
        while hour < end:
            window = {
                "channel": channel_id,
                "oldest": f"{int(hour.timestamp())}.000000",
                "latest": f"{int((hour + timedelta(hours=1)).timestamp())}.000000",
                "limit": 15,
            }
            for message in _pages(ws, h, "conversations.history", window, "messages"):
                served += 1
                h.item("history", message)
                h.item("truth", ws.scenario_of(channel_id, message["ts"]))
                if message.get("reply_count"):
                    thread = {"channel": channel_id, "ts": message["ts"], "limit": 20}
                    for reply in _pages(ws, h, "conversations.replies", thread, "messages"):
                        served += 1
                        h.item("replies", reply)
                        h.item("truth", ws.scenario_of(channel_id, reply["ts"]))
            hour += timedelta(hours=1)
    for channel_id, message in ws.iter_messages(start, end):
        served += 1
        h.item("iter", [channel_id, message])
    for method, params in (
        ("conversations.history", {"channel": "C_NOPE"}),
        ("conversations.history", {"channel": ws.channel_ids[0], "cursor": "bogus"}),
        ("conversations.history", {"channel": ws.channel_ids[0], "oldest": "x"}),
        ("conversations.replies", {"channel": ws.channel_ids[0]}),
        ("conversations.replies", {"channel": ws.channel_ids[0], "ts": "1.000001"}),
        ("conversations.list", {"cursor": "bogus"}),
        ("users.list", {"cursor": "bogus"}),
        ("chat.postMessage", {}),
    ):
        body = ws.call(method, params)
        h.body(method, body)
        h.item(method, body)
    return h.content.hexdigest(), h.wire.hexdigest(), served


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fingerprint", description=(__doc__ or "").partition("\n")[0]
    )
    parser.add_argument("--end", default="2026-11-20", help="last UTC day (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=3, help="days before --end to read")
    args = parser.parse_args(argv)
    end = datetime.strptime(args.end, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    for seed, scale in WORKSPACES:
        content, wire, served = fingerprint(seed, scale, end, args.days)
        print(f"seed={seed} scale={scale}: {served} messages  content {content}  wire {wire}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
