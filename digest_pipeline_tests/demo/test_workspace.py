"""The demo workspace answers like Slack, deterministically, at the volume it promises."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from random import Random
from typing import Any

import pytest

from digest_pipeline.demo import content as c
from digest_pipeline.demo.blocks import BOT_POSTS, LATE, compile_all, parse_ts
from digest_pipeline.demo.slots import Slots
from digest_pipeline.demo.workspace import DemoWorkspace

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # a Friday
TUESDAY = datetime(2026, 11, 17, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 14, 8, tzinfo=UTC)  # Saturday 00:00 Pacific
TS_RE = re.compile(r"^\d{10}\.\d{6}$")


@pytest.fixture(scope="module")
def ws() -> DemoWorkspace:
    return DemoWorkspace(seed=7, now=NOW)


def _ts(moment: datetime) -> str:
    return f"{int(moment.timestamp())}.000000"


def _history_pages(
    ws: DemoWorkspace, channel: str, oldest: str, latest: str, limit: int
) -> Iterator[dict[str, Any]]:
    cursor = ""
    while True:
        params: dict[str, Any] = {
            "channel": channel,
            "oldest": oldest,
            "latest": latest,
            "inclusive": "true",
            "limit": str(limit),
        }
        if cursor:
            params["cursor"] = cursor
        body = ws.call("conversations.history", params)
        assert body["ok"], body
        yield body
        cursor = body["response_metadata"]["next_cursor"]
        assert bool(cursor) == body["has_more"]
        if not cursor:
            return


def _history(ws: DemoWorkspace, channel: str, start: datetime, end: datetime) -> list[dict]:
    pages = _history_pages(ws, channel, _ts(start), _ts(end), 999)
    return [m for page in pages for m in page["messages"]]


def _all_replies(ws: DemoWorkspace, channel: str, ts: str, limit: int = 1000) -> list[dict]:
    out: list[dict] = []
    cursor = ""
    while True:
        params = {"channel": channel, "ts": ts, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = ws.call("conversations.replies", params)
        assert body["ok"], body
        out.extend(body["messages"])
        cursor = body.get("response_metadata", {}).get("next_cursor", "")
        if not cursor:
            return out


def _day(ws: DemoWorkspace, start: datetime) -> list[tuple[str, dict]]:
    return list(ws.iter_messages(start, start + timedelta(days=1)))


# -- determinism --------------------------------------------------------------------------------


def test_same_seed_and_window_give_identical_messages() -> None:
    start = TUESDAY + timedelta(hours=16)
    a = list(DemoWorkspace(seed=3, now=NOW).iter_messages(start, start + timedelta(hours=3)))
    b = list(DemoWorkspace(seed=3, now=NOW).iter_messages(start, start + timedelta(hours=3)))
    assert a and a == b


def test_history_is_the_same_whatever_was_asked_before() -> None:
    first = DemoWorkspace(seed=3, now=NOW)
    second = DemoWorkspace(seed=3, now=NOW)
    channel = first.channel_id("manufacturing")
    _history(second, channel, TUESDAY - timedelta(days=3), TUESDAY)  # warm a different window
    window = (TUESDAY + timedelta(hours=15), TUESDAY + timedelta(hours=18))
    assert _history(first, channel, *window) == _history(second, channel, *window)


def test_different_seed_gives_different_messages() -> None:
    start = TUESDAY + timedelta(hours=16)
    a = list(DemoWorkspace(seed=3, now=NOW).iter_messages(start, start + timedelta(hours=1)))
    b = list(DemoWorkspace(seed=4, now=NOW).iter_messages(start, start + timedelta(hours=1)))
    assert [m["text"] for _, m in a] != [m["text"] for _, m in b]


# -- conversations.history ----------------------------------------------------------------------


def test_history_pagination_is_complete_without_duplicates(ws: DemoWorkspace) -> None:
    channel = ws.channel_id("supply-chain")
    oldest, latest = _ts(TUESDAY), _ts(TUESDAY + timedelta(days=1))
    pages = list(_history_pages(ws, channel, oldest, latest, limit=7))
    paged = [m["ts"] for page in pages for m in page["messages"]]
    assert len(pages) > 5
    assert all(len(page["messages"]) <= 7 for page in pages)
    assert len(paged) == len(set(paged))
    whole = [m["ts"] for m in _history(ws, channel, TUESDAY, TUESDAY + timedelta(days=1))]
    assert paged == whole
    expected = sorted(
        (
            m["ts"]
            for ch, m in _day(ws, TUESDAY)
            if ch == channel
            and (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
        ),
        key=parse_ts,
        reverse=True,
    )
    assert paged == expected


def test_history_is_newest_first_and_inside_the_window(ws: DemoWorkspace) -> None:
    channel = ws.channel_id("sales-hw")
    start, end = TUESDAY + timedelta(hours=17), TUESDAY + timedelta(hours=19)
    messages = _history(ws, channel, start, end)
    values = [parse_ts(m["ts"]) for m in messages]
    assert values == sorted(values, reverse=True)
    assert all(parse_ts(_ts(start)) <= v <= parse_ts(_ts(end)) for v in values)


def test_history_limit_defaults_to_100_and_caps_at_999(ws: DemoWorkspace) -> None:
    channel = ws.channel_id("supply-chain")
    week = {"channel": channel, "oldest": _ts(TUESDAY - timedelta(days=7)), "latest": _ts(TUESDAY)}
    assert len(ws.call("conversations.history", week)["messages"]) == 100
    big = ws.call("conversations.history", {**week, "limit": 5000})
    assert len(big["messages"]) == 999 and big["has_more"]
    lenient = ws.call("conversations.history", {**week, "limit": "12"})
    assert len(lenient["messages"]) == 12


def test_inclusive_bounds_follow_slack(ws: DemoWorkspace) -> None:
    channel = ws.channel_id("supply-chain")
    messages = _history(ws, channel, TUESDAY + timedelta(hours=17), TUESDAY + timedelta(hours=18))
    newest, oldest = messages[0]["ts"], messages[-1]["ts"]
    params = {"channel": channel, "oldest": oldest, "latest": newest, "limit": 999}
    exclusive = ws.call("conversations.history", params)["messages"]
    inclusive = ws.call("conversations.history", {**params, "inclusive": "1"})["messages"]
    assert [m["ts"] for m in inclusive] == [m["ts"] for m in messages]
    assert [m["ts"] for m in exclusive] == [m["ts"] for m in messages[1:-1]]


def test_history_has_parents_broadcasts_and_system_messages_but_no_plain_replies(
    ws: DemoWorkspace,
) -> None:
    subtypes: Counter[str] = Counter()
    for name in ("supply-chain", "manufacturing", "npi-launch", "logistics", "quality"):
        channel = ws.channel_id(name)
        for m in _history(ws, channel, TUESDAY - timedelta(days=4), TUESDAY + timedelta(days=1)):
            subtypes[m.get("subtype", "")] += 1
            if m.get("thread_ts") and m["thread_ts"] != m["ts"]:
                assert m["subtype"] == "thread_broadcast"
                assert m["root"]["ts"] == m["thread_ts"]
            if m.get("subtype") == "bot_message":
                assert m["bot_id"].startswith("B") and m["attachments"]
            if m.get("subtype") is None:
                assert m["user"].startswith("U") and m["client_msg_id"]
    for subtype in ("", "thread_broadcast", "bot_message", "channel_join", "channel_leave"):
        assert subtypes[subtype] > 0, subtype


def test_errors_arrive_as_ok_false_bodies(ws: DemoWorkspace) -> None:
    mech = ws.channel_id("mech-design")
    assert ws.call("conversations.history", {"channel": mech}) == {
        "ok": False,
        "error": "not_in_channel",
    }
    missing = ws.call("conversations.history", {"channel": "C0NOPE"})
    assert missing["error"] == "channel_not_found"
    replies = ws.call(
        "conversations.replies",
        {"channel": ws.channel_id("quality"), "ts": "1763400000.123456"},
    )
    assert replies == {"ok": False, "error": "thread_not_found"}
    assert ws.call("chat.postMessage", {})["error"] == "unknown_method"
    bad = {"channel": ws.channel_id("random"), "cursor": "not-a-cursor"}
    assert ws.call("conversations.history", bad)["error"] == "invalid_cursor"


def test_calls_are_counted_per_method() -> None:
    ws = DemoWorkspace(now=NOW)
    ws.call("auth.test", {})
    ws.call("auth.test", {})
    ws.call("users.list", {})
    assert ws.stats.calls == Counter({"auth.test": 2, "users.list": 1})


# -- threads ------------------------------------------------------------------------------------


def _threads(ws: DemoWorkspace, name: str, min_replies: int) -> list[dict]:
    channel = ws.channel_id(name)
    messages = _history(ws, channel, TUESDAY - timedelta(days=3), TUESDAY + timedelta(days=1))
    return [
        m
        for m in messages
        if m.get("thread_ts") == m["ts"] and m.get("reply_count", 0) >= min_replies
    ]


def test_replies_come_parent_first_then_oldest_to_newest(ws: DemoWorkspace) -> None:
    channel = ws.channel_id("manufacturing")
    parents = _threads(ws, "manufacturing", 3)
    assert parents
    for parent in parents[:20]:
        thread = _all_replies(ws, channel, parent["ts"])
        assert thread[0]["ts"] == parent["ts"]
        assert thread[0]["reply_count"] == parent["reply_count"] == len(thread) - 1
        assert thread[0]["latest_reply"] == thread[-1]["ts"]
        replies = thread[1:]
        assert [parse_ts(r["ts"]) for r in replies] == sorted(parse_ts(r["ts"]) for r in replies)
        assert all(r["thread_ts"] == parent["ts"] for r in replies)
        assert all(r["parent_user_id"] == parent["user"] for r in replies)
        assert set(parent["reply_users"]) == {r["user"] for r in replies}


def test_replies_paginate_completely(ws: DemoWorkspace) -> None:
    channel = ws.channel_id("supply-chain")
    parent = max(_threads(ws, "supply-chain", 4), key=lambda m: m["reply_count"])
    whole = _all_replies(ws, channel, parent["ts"])
    paged = _all_replies(ws, channel, parent["ts"], limit=2)
    assert [m["ts"] for m in paged] == [m["ts"] for m in whole]
    assert len({m["ts"] for m in paged}) == len(paged) == parent["reply_count"] + 1


def test_reply_ts_and_plain_message_ts_answer_like_slack(ws: DemoWorkspace) -> None:
    channel = ws.channel_id("npi-launch")
    messages = _history(ws, channel, TUESDAY, TUESDAY + timedelta(days=1))
    parent = next(m for m in messages if m.get("reply_count", 0) >= 2)
    reply_ts = _all_replies(ws, channel, parent["ts"])[2]["ts"]
    via_reply = ws.call("conversations.replies", {"channel": channel, "ts": reply_ts})
    assert via_reply["messages"][0]["ts"] == parent["ts"]
    plain = next(m for m in messages if "thread_ts" not in m and m.get("subtype") is None)
    alone = ws.call("conversations.replies", {"channel": channel, "ts": plain["ts"]})
    assert [m["ts"] for m in alone["messages"]] == [plain["ts"]]


def test_the_clock_hides_replies_not_yet_posted() -> None:
    ws = DemoWorkspace(seed=7, now=NOW)
    channel, parent, thread = "", {}, []
    # A thread whose last reply came more than a day after the parent: a late follow-up.
    for name in ("supply-chain", "manufacturing", "sales-hw", "npi-launch", "logistics"):
        channel = ws.channel_id(name)
        start, end = TUESDAY - timedelta(days=10), TUESDAY - timedelta(days=1)
        for m in _history(ws, channel, start, end):
            if m.get("latest_reply") and parse_ts(m["latest_reply"]) - parse_ts(m["ts"]) > 86400e6:
                parent = m
                break
        if parent:
            break
    assert parent, "expected a late follow-up reply somewhere in ten days"
    thread = _all_replies(ws, channel, parent["ts"])
    late = thread[-1]
    late_at = datetime.fromtimestamp(parse_ts(late["ts"]) / 1e6, UTC)
    day_window = (late_at - timedelta(hours=1), late_at + timedelta(hours=1))
    assert late["ts"] not in {m["ts"] for m in _history(ws, channel, *day_window)}
    assert ws.scenario_of(channel, late["ts"]) is None or isinstance(
        ws.scenario_of(channel, late["ts"]), str
    )

    ws.now = late_at - timedelta(seconds=1)
    earlier = _all_replies(ws, channel, parent["ts"])
    assert earlier[0].get("reply_count", 0) == len(earlier) - 1 < len(thread) - 1
    assert earlier[0].get("latest_reply") != late["ts"]
    gone = ws.call("conversations.replies", {"channel": channel, "ts": late["ts"]})
    assert gone == {"ok": False, "error": "thread_not_found"}
    found = list(ws.iter_messages(*day_window))
    assert late["ts"] not in {m["ts"] for _, m in found}

    ws.now = NOW
    assert late["ts"] in {m["ts"] for _, m in ws.iter_messages(*day_window)}


def test_nothing_after_now_is_visible() -> None:
    now = TUESDAY + timedelta(hours=18, minutes=30)
    ws = DemoWorkspace(now=now)
    channel = ws.channel_id("supply-chain")
    body = ws.call("conversations.history", {"channel": channel, "limit": 999})
    assert body["messages"]
    assert all(parse_ts(m["ts"]) <= parse_ts(_ts(now)) for m in body["messages"])
    for m in body["messages"]:
        if m.get("latest_reply"):
            assert parse_ts(m["latest_reply"]) <= parse_ts(_ts(now))


# -- ts, volume, content ------------------------------------------------------------------------


def test_ts_strings_are_exact_and_unique_per_channel() -> None:
    ws = DemoWorkspace(seed=11, scale=3, now=NOW)
    seen: dict[str, set[str]] = {}
    for channel, m in ws.iter_messages(TUESDAY + timedelta(hours=8), TUESDAY + timedelta(hours=20)):
        assert TS_RE.match(m["ts"]), m["ts"]
        assert m["ts"] not in seen.setdefault(channel, set())
        seen[channel].add(m["ts"])
    assert sum(len(v) for v in seen.values()) > 3000


def test_weekday_volume_is_in_range_and_above_the_weekend(ws: DemoWorkspace) -> None:
    weekday = len(_day(ws, TUESDAY + timedelta(hours=8)))
    weekend = len(_day(ws, SATURDAY))
    assert 2000 <= weekday <= 4000
    assert weekend < weekday / 2
    assert weekend > 0


def test_scale_multiplies_volume() -> None:
    start = TUESDAY + timedelta(hours=8)
    one = len(_day(DemoWorkspace(seed=5, scale=1, now=NOW), start))
    two = len(_day(DemoWorkspace(seed=5, scale=2, now=NOW), start))
    assert 1.7 < two / one < 2.3


def test_iter_messages_generates_benchmark_volumes() -> None:
    # Throughput is measured by benchmarks/, not asserted here: a loaded CI box must not fail it.
    ws = DemoWorkspace(seed=1, scale=25, now=NOW)
    count = sum(
        1 for _ in ws.iter_messages(TUESDAY + timedelta(hours=8), TUESDAY + timedelta(days=1))
    )
    assert count >= 50_000


def test_risk_scenarios_appear_at_plausible_rates(ws: DemoWorkspace) -> None:
    messages = [
        (channel, m)
        for day in range(3)
        for channel, m in _day(ws, TUESDAY - timedelta(days=day + 1) + timedelta(hours=8))
    ]
    names = Counter(ws.scenario_of(channel, m["ts"]) for channel, m in messages)
    levels = Counter({})
    for name, n in names.items():
        levels[c.scenario_level(name)] += n
    total = len(messages)
    risky = levels["medium"] + levels["high"] + levels["critical"]
    assert 0.04 < risky / total < 0.12
    assert 0.002 < (levels["high"] + levels["critical"]) / total < 0.03
    risk_names = {n for n in names if n and c.scenario_level(n) != "low"}
    assert len(risk_names) >= 12
    assert {"prompt_injection", "false_alarm", "resolution"} <= set(names)
    for _, m in messages:
        assert "scenario" not in m and "level" not in m


def test_scenario_of_finds_the_ground_truth(ws: DemoWorkspace) -> None:
    channel = ws.channel_id("manufacturing")
    messages = _history(ws, channel, TUESDAY - timedelta(days=2), TUESDAY + timedelta(days=1))
    labelled = [m for m in messages if ws.scenario_of(channel, m["ts"]) == "yield_excursion"]
    assert labelled
    assert ws.scenario_of(channel, "1000000000.000000") is None
    assert ws.scenario_of("C0NOPE", labelled[0]["ts"]) is None


def test_every_template_fills_from_known_slots() -> None:
    members = tuple(p.user_id for p in c.PEOPLE[:5])
    texts: list[str] = list(c.GENERIC_ROUTINE) + list(c.ROUTINE_REPLIES) + list(c.FILLER_REPLIES)
    for scenario in c.SCENARIO_LIST:
        texts += [*scenario.parents, *scenario.replies, *scenario.closers]
    for pool in c.ROUTINE.values():
        texts += pool
    templates = list(compile_all(tuple(texts))) + list(LATE)
    for posts in BOT_POSTS.values():
        for title, body, _, _ in posts:
            templates += [title, body]
    for template in templates:
        filled = template.text.format_map(Slots(Random(1), members))
        assert "{" not in filled and "}" not in filled, template.text


def test_messages_look_like_slack_mrkdwn(ws: DemoWorkspace) -> None:
    start = TUESDAY - timedelta(days=2)
    texts = [m.get("text", "") for _, m in ws.iter_messages(start, TUESDAY + timedelta(days=1))]
    joined = "\n".join(texts)
    assert re.search(r"<@U[0-9A-Z]+>", joined)
    assert re.search(r"<https://[^|>]+\|[^>]+>", joined)
    assert "<!here>" in joined or "<!channel>" in joined
    assert "&amp;" in joined or "&gt;" in joined
    assert re.search(r":[a-z_+]+:", joined)
    assert any(not t for t in texts)  # blocks-only human posts and attachment-only bot posts


# -- directory methods --------------------------------------------------------------------------


def test_conversations_list_pages_and_filters(ws: DemoWorkspace) -> None:
    seen: list[dict] = []
    cursor = ""
    while True:
        params = {"types": "public_channel,private_channel", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = ws.call("conversations.list", params)
        seen += body["channels"]
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            break
    names = {ch["name"]: ch for ch in seen}
    for name in (
        "supply-chain",
        "manufacturing",
        "npi-launch",
        "certification",
        "sales-hw",
        "logistics",
        "quality",
        "random",
    ):
        assert names[name]["is_member"] and not names[name]["is_private"]
    assert names["exec-escalations"]["is_private"] and names["exec-escalations"]["id"][0] == "G"
    assert not names["mech-design"]["is_member"]
    assert names["osprey-evt1-build"]["is_archived"]
    assert len(seen) == len({ch["id"] for ch in seen})
    public = ws.call("conversations.list", {})["channels"]
    assert all(not ch["is_private"] for ch in public)
    active = ws.call("conversations.list", {"types": "public_channel", "exclude_archived": "true"})
    assert "osprey-evt1-build" not in {ch["name"] for ch in active["channels"]}


def test_users_and_auth(ws: DemoWorkspace) -> None:
    body = ws.call("users.list", {"limit": 10})
    members = list(body["members"])
    while body["response_metadata"]["next_cursor"]:
        body = ws.call(
            "users.list", {"limit": 10, "cursor": body["response_metadata"]["next_cursor"]}
        )
        members += body["members"]
    humans = [u for u in members if not u["is_bot"] and u["id"] != "USLACKBOT"]
    assert 25 <= len(humans) <= 40
    assert any(u["deleted"] for u in humans)
    titles = {u["profile"]["title"] for u in humans}
    assert {"Supply Chain Manager", "CM Quality Engineer", "NPI Program Manager"} <= titles
    bots = [u for u in members if u["is_bot"]]
    auth = ws.call("auth.test", {})
    assert auth["ok"] and auth["url"] == f"https://{c.TEAM_DOMAIN}.slack.com/"
    assert auth["user_id"] in {u["id"] for u in bots}
    assert all(u["profile"]["bot_id"].startswith("B") for u in bots)


def test_the_demo_pages_lists_and_reads_parameters_as_the_shared_emulation_does(
    ws: DemoWorkspace,
) -> None:
    from digest_pipeline.defs.slack.emulation import encode_cursor, ts_cursor

    assert ws.call("conversations.list", {"types": "bogus"}) == {
        "ok": False,
        "error": "invalid_types",
    }
    first = ws.call("conversations.list", {"types": "public_channel", "limit": 2})
    assert first["response_metadata"]["next_cursor"] == encode_cursor("offset", "2")
    rest = ws.call(
        "conversations.list",
        {"types": "public_channel", "cursor": first["response_metadata"]["next_cursor"]},
    )
    names = [ch["name"] for ch in first["channels"] + rest["channels"]]
    assert len(names) == len(set(names)) > 2
    channel = ws.channel_id("supply-chain")
    page = ws.call("conversations.history", {"channel": channel, "latest": _ts(NOW), "limit": 3})
    cursor = page["response_metadata"]["next_cursor"]
    # The shared codec reads it: the next page continues below the last message returned.
    below = ts_cursor({"cursor": cursor})
    assert isinstance(below, Decimal) and below < Decimal(page["messages"][-1]["ts"])
    following = ws.call(
        "conversations.history",
        {"channel": channel, "latest": _ts(NOW), "limit": 3, "cursor": cursor},
    )
    assert following["messages"][0]["ts"] == str(below)
    bad = ws.call("conversations.history", {"channel": channel, "cursor": "x"})
    assert bad == {"ok": False, "error": "invalid_cursor"}


def test_the_fingerprint_is_deterministic_and_sees_every_message() -> None:
    from digest_pipeline.demo.fingerprint import fingerprint

    end = datetime(2026, 11, 18, tzinfo=UTC)
    first = fingerprint(7, 0.2, end, 1)
    assert first == fingerprint(7, 0.2, end, 1)
    assert first[2] > 100
    assert fingerprint(8, 0.2, end, 1)[0] != first[0]
