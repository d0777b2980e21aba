"""The real ``slack_sdk.WebClient`` (through ``WebApi``) against a local fake Slack server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from digest_pipeline.defs.slack.api import STRICT_PAGE_LIMIT, WebApi
from digest_pipeline.defs.slack.extract import Window, extract_window, paginate
from digest_pipeline.defs.slack.models import SlackCallError, require_ok
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer, FakeWorkspace, Fault

TOKEN = "xoxb-test-0123456789-secret"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def ts(seconds: int, micro: int = 0) -> str:
    return f"{T0 + seconds}.{micro:06d}"


class FakeSleep:
    """Records waits instead of sleeping; also a clock that the waits move forward."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def workspace() -> FakeWorkspace:
    ws = FakeWorkspace()
    ws.add_user("U001", "ana")
    ws.add_user("U002", "ben")
    ws.add_channel("C001", "supply-chain")
    ws.add_channel("C002", "npi-launch", is_private=True)
    ws.add_channel("C003", "secret-board", is_member=False)
    ws.add_channel("C004", "old-launch", is_archived=True)
    ws.post("C001", ts(10), "PCB lead time slipped to 16 weeks")
    ws.post("C001", ts(20), "FCC retest booked", user="U002")
    ws.post("C001", ts(30, 1), "reply one", thread_ts=ts(10), user="U002")
    ws.post("C001", ts(40, 2), "reply two, broadcast", thread_ts=ts(10), broadcast=True)
    return ws


@pytest.fixture
def server(workspace: FakeWorkspace) -> Iterator[FakeSlackServer]:
    with FakeSlackServer(workspace, token=TOKEN) as srv:
        yield srv


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def api(server: FakeSlackServer, sleep: FakeSleep) -> WebApi:
    return WebApi(TOKEN, server.base_url, max_retries=3, sleep=sleep, clock=sleep.clock)


HISTORY = {"channel": "C001", "limit": 50}


def test_history_is_served_through_the_real_client(api: WebApi) -> None:
    body = api.call("conversations.history", HISTORY)

    assert body["ok"] is True
    # Newest first; the plain reply stays out, the broadcast shows.
    assert [m["ts"] for m in body["messages"]] == [ts(40, 2), ts(20), ts(10)]
    parent = body["messages"][-1]
    assert parent["reply_count"] == 2
    assert parent["latest_reply"] == ts(40, 2)


def test_rate_limited_call_is_retried_after_retry_after(
    api: WebApi, server: FakeSlackServer, sleep: FakeSleep
) -> None:
    server.inject("conversations.history", Fault.rate_limited(retry_after=7))

    body = api.call("conversations.history", HISTORY)

    assert body["ok"] is True
    assert api.stats.rate_limited == 1
    assert len(sleep.waits) == 1 and 7 <= sleep.waits[0] < 8
    assert api.stats.seconds_waited == pytest.approx(sleep.waits[0])
    assert server.calls("conversations.history") == 2
    assert api.stats.calls["conversations.history"] == 1


def test_rate_limit_with_zero_retry_after_really_retries(server: FakeSlackServer) -> None:
    # The real sleep, no injection: Retry-After: 0 keeps the wait under the jitter.
    api = WebApi(TOKEN, server.base_url, max_retries=2)
    server.inject("users.list", Fault.rate_limited(retry_after=0))

    assert api.call("users.list", {})["ok"] is True
    assert api.stats.rate_limited == 1
    assert api.stats.seconds_waited < 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_is_retried_with_backoff(
    api: WebApi, server: FakeSlackServer, sleep: FakeSleep, status: int
) -> None:
    server.inject("conversations.history", Fault.server_error(status), Fault.server_error(status))

    body = api.call("conversations.history", HISTORY)

    assert body["ok"] is True
    assert server.calls("conversations.history") == 3
    assert len(sleep.waits) == 2
    assert api.stats.rate_limited == 0
    assert api.stats.seconds_waited == pytest.approx(sum(sleep.waits))


def test_dropped_connection_is_retried(
    api: WebApi, server: FakeSlackServer, sleep: FakeSleep
) -> None:
    server.inject("conversations.replies", Fault.drop())

    body = api.call("conversations.replies", {"channel": "C001", "ts": ts(10)})

    assert body["ok"] is True
    assert [m["ts"] for m in body["messages"]] == [ts(10), ts(30, 1), ts(40, 2)]
    assert server.calls("conversations.replies") == 2
    assert len(sleep.waits) == 1


def test_persistent_rate_limit_raises_slack_call_error_after_bounded_retries(
    api: WebApi, server: FakeSlackServer
) -> None:
    server.inject("conversations.history", *[Fault.rate_limited(retry_after=1)] * 10)

    with pytest.raises(SlackCallError) as raised:
        api.call("conversations.history", HISTORY)

    assert raised.value.method == "conversations.history"
    assert raised.value.error.startswith("ratelimited")
    assert server.calls("conversations.history") == 4  # one try and max_retries=3 retries
    assert api.stats.rate_limited == 4


def test_persistent_server_error_raises_slack_call_error(
    api: WebApi, server: FakeSlackServer
) -> None:
    server.inject("users.list", *[Fault.server_error(503)] * 10)

    with pytest.raises(SlackCallError, match="HTTP 503"):
        api.call("users.list", {})
    assert server.calls("users.list") == 4


def test_persistent_dropped_connection_raises_slack_call_error(
    api: WebApi, server: FakeSlackServer
) -> None:
    server.inject("auth.test", *[Fault.drop()] * 10)

    with pytest.raises(SlackCallError, match="connection failed"):
        api.call("auth.test", {})
    assert server.calls("auth.test") == 4


def test_unreachable_server_raises_slack_call_error(sleep: FakeSleep) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = WebApi(TOKEN, f"http://127.0.0.1:{port}/api/", max_retries=1, sleep=sleep)

    with pytest.raises(SlackCallError, match="connection failed") as raised:
        api.call("auth.test", {})
    assert TOKEN not in str(raised.value)
    assert len(sleep.waits) == 1


@pytest.mark.parametrize("code", ["not_in_channel", "token_revoked", "missing_scope"])
def test_ok_false_body_is_returned_for_the_caller_to_check(
    api: WebApi, server: FakeSlackServer, code: str
) -> None:
    server.inject("conversations.history", Fault.error(code))

    body = api.call("conversations.history", HISTORY)

    assert body == {"ok": False, "error": code}
    with pytest.raises(SlackCallError) as raised:
        require_ok("conversations.history", body, channel="C001")
    assert raised.value.error == code
    assert server.calls("conversations.history") == 1  # errors in the body are not retried


def test_channel_the_bot_is_not_in_answers_not_in_channel(api: WebApi) -> None:
    body = api.call("conversations.history", {"channel": "C003"})

    assert body == {"ok": False, "error": "not_in_channel"}


def test_wrong_token_gets_invalid_auth(server: FakeSlackServer, sleep: FakeSleep) -> None:
    api = WebApi("xoxb-wrong", server.base_url, sleep=sleep)

    body = api.call("auth.test", {})

    assert body == {"ok": False, "error": "invalid_auth"}
    assert server.requests[-1].authorized is False


def test_calls_are_counted_per_method(api: WebApi) -> None:
    api.call("auth.test", {})
    api.call("conversations.list", {"types": "public_channel,private_channel"})
    api.call("conversations.history", HISTORY)
    api.call("conversations.history", {"channel": "C002"})

    assert api.stats.calls == {
        "auth.test": 1,
        "conversations.list": 1,
        "conversations.history": 2,
    }
    assert api.stats.as_metadata()["api_calls"] == 4


def test_strict_tier_paces_history_and_replies_and_caps_pages(
    server: FakeSlackServer, sleep: FakeSleep
) -> None:
    api = WebApi.for_rate_tier(
        TOKEN, server.base_url, tier="strict", sleep=sleep, clock=sleep.clock
    )

    for _ in range(3):
        api.call("conversations.history", {"channel": "C001", "limit": 200})
    api.call("conversations.replies", {"channel": "C001", "ts": ts(10)})
    api.call("users.list", {"limit": 200})

    # Two waits of a minute for the 2nd and 3rd history call; replies and users are not held up.
    assert sleep.waits == [60.0, 60.0]
    assert api.stats.seconds_waited == pytest.approx(120.0)
    limits = {r.method: r.params.get("limit") for r in server.requests}
    assert limits["conversations.history"] == str(STRICT_PAGE_LIMIT["conversations.history"])
    assert limits["users.list"] == "200"


def test_pacing_does_not_wait_when_calls_are_already_far_apart(
    server: FakeSlackServer, sleep: FakeSleep
) -> None:
    api = WebApi(
        TOKEN,
        server.base_url,
        min_interval_s={"conversations.history": 60.0},
        sleep=sleep,
        clock=sleep.clock,
    )
    api.call("conversations.history", HISTORY)
    sleep.now += 45
    api.call("conversations.history", HISTORY)

    assert sleep.waits == [pytest.approx(15.0)]


def test_token_never_appears_in_repr_errors_or_stats(api: WebApi, server: FakeSlackServer) -> None:
    server.inject("users.list", *[Fault.server_error(500)] * 10)
    with pytest.raises(SlackCallError) as raised:
        api.call("users.list", {})

    texts = [repr(api), str(api), str(raised.value), repr(raised.value), str(api.stats)]
    texts.append(str(api.stats.as_metadata()))
    assert all(TOKEN not in text for text in texts)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_pagination_follows_cursors_through_the_real_client(
    api: WebApi, workspace: FakeWorkspace
) -> None:
    for i in range(25):
        workspace.post("C002", ts(100 + i), f"message {i}")

    messages = list(
        paginate(api, "conversations.history", {"channel": "C002", "limit": 10}, "messages")
    )

    assert [m["ts"] for m in messages] == [ts(100 + i) for i in reversed(range(25))]
    assert api.stats.calls["conversations.history"] == 3


def test_conversations_list_filters_types_and_archived(api: WebApi) -> None:
    public = api.call("conversations.list", {"types": "public_channel"})
    everything = api.call(
        "conversations.list",
        {"types": "public_channel,private_channel", "exclude_archived": "true"},
    )

    assert {c["id"] for c in public["channels"]} == {"C001", "C003", "C004"}
    assert {c["id"] for c in everything["channels"]} == {"C001", "C002", "C003"}


def test_replies_window_keeps_parent_first_on_every_page(
    api: WebApi, workspace: FakeWorkspace
) -> None:
    for i in range(5):
        workspace.post("C001", ts(50 + i), f"late {i}", thread_ts=ts(10))

    pages = []
    cursor = None
    while True:
        params = {"channel": "C001", "ts": ts(10), "oldest": ts(45), "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = api.call("conversations.replies", params)
        pages.append([m["ts"] for m in body["messages"]])
        cursor = (body.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break

    assert all(page[0] == ts(10) for page in pages)
    assert [t for page in pages for t in page[1:]] == [ts(50 + i) for i in range(5)]


def test_edits_and_deletes_show_in_the_next_read(api: WebApi, workspace: FakeWorkspace) -> None:
    workspace.edit("C001", ts(20), "FCC retest moved to Friday", edited_ts=ts(90))
    workspace.delete("C001", ts(10))  # has replies: leaves a tombstone
    workspace.delete("C001", ts(30, 1))

    history = api.call("conversations.history", HISTORY)["messages"]
    by_ts = {m["ts"]: m for m in history}
    assert by_ts[ts(20)]["text"] == "FCC retest moved to Friday"
    assert by_ts[ts(20)]["edited"]["ts"] == ts(90)
    assert by_ts[ts(10)]["subtype"] == "tombstone"
    assert by_ts[ts(10)]["reply_count"] == 1

    replies = api.call("conversations.replies", {"channel": "C001", "ts": ts(10)})["messages"]
    assert [m["ts"] for m in replies] == [ts(10), ts(40, 2)]


def test_extraction_under_injected_faults_loses_and_duplicates_nothing(
    workspace: FakeWorkspace, sleep: FakeSleep
) -> None:
    for i in range(30):
        workspace.post("C002", ts(3600 + i * 60), f"launch note {i}")
    workspace.post("C002", ts(3600 + 5, 7), "late reply", thread_ts=ts(3600))
    window = Window(
        datetime.fromtimestamp(T0, tz=UTC), datetime.fromtimestamp(T0, tz=UTC) + timedelta(hours=2)
    )

    def extract(srv: FakeSlackServer) -> list[tuple[str, str]]:
        # Retries are bounded per call across all fault kinds: four in a row need max_retries >= 4.
        api = WebApi(TOKEN, srv.base_url, max_retries=5, sleep=sleep, clock=sleep.clock)
        result = extract_window(api, ["C001", "C002", "C003"], window, page_limit=7)
        assert result.skipped_channels == {"C003": "not_in_channel"}
        return [(m.channel_id, m.ts) for m in result.messages]

    with FakeSlackServer(workspace, token=TOKEN) as srv:
        clean = extract(srv)
    with FakeSlackServer(workspace, token=TOKEN) as srv:
        srv.inject(
            "conversations.history",
            Fault.rate_limited(retry_after=2),
            Fault.drop(),
            Fault.server_error(503),
            Fault.rate_limited(retry_after=1),
        )
        srv.inject("conversations.replies", Fault.drop(), Fault.server_error(500))
        faulty = extract(srv)
        assert srv.pending_faults() == 0

    assert faulty == clean
    assert len(clean) == len(set(clean)) == 4 + 30 + 1
