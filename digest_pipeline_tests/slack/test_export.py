"""``ExportApi`` over hand-made workspace exports, as folders and as ZIPs."""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest_pipeline.defs.slack.api import WebApi
from digest_pipeline.defs.slack.export import ExportApi, ExportFormatError
from digest_pipeline.defs.slack.extract import (
    NO_IDENTITY,
    AppIdentity,
    app_identity,
    paginate,
)
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer

DAY1 = datetime(2026, 1, 5, tzinfo=UTC)  # 2026-01-05
D1 = int(DAY1.timestamp())
DAY = 86_400


def ts(seconds: int, micro: int = 0) -> str:
    return f"{D1 + seconds}.{micro:06d}"


def msg(at: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": "U001", "text": text, "ts": at, **extra}


PARENT = ts(3600)  # day 1, 01:00
CHANNELS = [
    {"id": "C001", "name": "supply-chain", "is_archived": False, "topic": {"value": "parts"}},
    {"id": "C002", "name": "certification", "is_archived": True},
]
USERS = [{"id": "U001", "name": "ana"}, {"id": "U002", "name": "ben"}]
DAYS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "supply-chain": {
        "2026-01-05": [
            msg(PARENT, "PCB supplier slipped", reply_count=3, latest_reply=ts(2 * DAY + 60)),
            msg(ts(3700), "first reply", thread_ts=PARENT, user="U002"),
            msg(ts(7200, 100), "capacitor allocation cut"),
        ],
        "2026-01-06": [
            msg(
                ts(DAY + 60),
                "second reply, broadcast",
                thread_ts=PARENT,
                subtype="thread_broadcast",
            ),
            msg(ts(DAY + 120), "new lead time: 16 weeks"),
        ],
        "2026-01-07": [
            msg(ts(2 * DAY + 60), "late reply", thread_ts=PARENT, user="U002"),
            msg(ts(2 * DAY + 3600), "a thread without counts"),
            msg(ts(2 * DAY + 3700), "counted here", thread_ts=ts(2 * DAY + 3600)),
        ],
    },
    "certification": {"2026-01-05": [msg(ts(100), "FCC booked")]},
}


def write_folder(root: Path, files: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return root


def write_zip(path: Path, files: dict[str, Any], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            text = content if isinstance(content, str) else json.dumps(content)
            archive.writestr(prefix + name, text)
    return path


def export_files(**extra: Any) -> dict[str, Any]:
    files: dict[str, Any] = {"channels.json": CHANNELS, "users.json": USERS}
    for folder, days in DAYS.items():
        for day, messages in days.items():
            files[f"{folder}/{day}.json"] = messages
    files.update(extra)
    return copy.deepcopy(files)


Builder = Callable[[Path, dict[str, Any]], Path]
BUILDERS: dict[str, Builder] = {
    "folder": lambda tmp, files: write_folder(tmp / "export", files),
    "zip": lambda tmp, files: write_zip(tmp / "export.zip", files),
    "rezipped-folder": lambda tmp, files: write_zip(tmp / "export.zip", files, "Acme Export/"),
}


@pytest.fixture(params=list(BUILDERS))
def build(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    return lambda files: BUILDERS[request.param](tmp_path, files)


def history(api: ExportApi, **params: Any) -> list[str]:
    body = api.call("conversations.history", {"channel": "C001", **params})
    assert body["ok"] is True, body
    return [m["ts"] for m in body["messages"]]


def test_history_returns_top_level_messages_and_broadcasts_newest_first(
    build: Callable[[dict[str, Any]], Path],
) -> None:
    api = ExportApi(build(export_files()))

    assert history(api) == [
        ts(2 * DAY + 3600),
        ts(DAY + 120),
        ts(DAY + 60),  # the broadcast; plain replies stay out of history
        ts(7200, 100),
        PARENT,
    ]


def test_history_window_honours_oldest_latest_and_inclusive(tmp_path: Path) -> None:
    api = ExportApi(write_folder(tmp_path / "export", export_files()))

    assert history(api, oldest=PARENT, latest=ts(DAY + 120)) == [ts(DAY + 60), ts(7200, 100)]
    assert history(api, oldest=PARENT, latest=ts(DAY + 120), inclusive="true") == [
        ts(DAY + 120),
        ts(DAY + 60),
        ts(7200, 100),
        PARENT,
    ]
    assert history(api, oldest=ts(7200, 100), latest=ts(7200, 100), inclusive=True) == [
        ts(7200, 100)
    ]


def test_history_pages_with_cursor_and_limit(tmp_path: Path) -> None:
    api = ExportApi(write_folder(tmp_path / "export", export_files()))

    pages = []
    cursor = ""
    while True:
        body = api.call("conversations.history", {"channel": "C001", "limit": 2, "cursor": cursor})
        pages.append([m["ts"] for m in body["messages"]])
        assert body["has_more"] is bool(body.get("response_metadata"))
        cursor = (body.get("response_metadata") or {}).get("next_cursor", "")
        if not cursor:
            break

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [t for page in pages for t in page] == history(api)


def test_history_reads_only_day_files_near_the_window(tmp_path: Path) -> None:
    # A broken file a week away from the window is never opened.
    files = export_files(**{"supply-chain/2026-01-12.json": "{not json"})
    api = ExportApi(write_folder(tmp_path / "export", files))

    assert history(api, oldest=ts(DAY), latest=ts(2 * DAY)) == [ts(DAY + 120), ts(DAY + 60)]
    with pytest.raises(ExportFormatError):
        history(api)


def test_replies_collects_a_thread_across_day_files(
    build: Callable[[dict[str, Any]], Path],
) -> None:
    api = ExportApi(build(export_files()))

    body = api.call("conversations.replies", {"channel": "C001", "ts": PARENT})

    assert body["ok"] is True
    assert [m["ts"] for m in body["messages"]] == [PARENT, ts(3700), ts(DAY + 60), ts(2 * DAY + 60)]
    assert body["messages"][0]["text"] == "PCB supplier slipped"


def test_replies_window_returns_the_parent_and_the_replies_inside_it(tmp_path: Path) -> None:
    api = ExportApi(write_folder(tmp_path / "export", export_files()))

    body = api.call(
        "conversations.replies",
        {"channel": "C001", "ts": PARENT, "oldest": ts(DAY), "latest": ts(3 * DAY)},
    )

    assert [m["ts"] for m in body["messages"]] == [PARENT, ts(DAY + 60), ts(2 * DAY + 60)]


def test_replies_asked_with_a_reply_ts_answer_for_the_whole_thread(tmp_path: Path) -> None:
    api = ExportApi(write_folder(tmp_path / "export", export_files()))

    body = api.call("conversations.replies", {"channel": "C001", "ts": ts(2 * DAY + 60)})

    assert body["messages"][0]["ts"] == PARENT
    assert len(body["messages"]) == 4


def test_parent_without_counts_gets_them_from_the_replies_present(tmp_path: Path) -> None:
    parent_ts = ts(2 * DAY + 3600)
    files = export_files()
    # A parent carries thread_ts == ts; this one lacks reply_count and latest_reply.
    files["supply-chain/2026-01-07.json"][1]["thread_ts"] = parent_ts
    api = ExportApi(write_folder(tmp_path / "export", files))

    parent = next(
        m
        for m in api.call("conversations.history", {"channel": "C001"})["messages"]
        if m["ts"] == parent_ts
    )
    thread = api.call("conversations.replies", {"channel": "C001", "ts": parent_ts})

    assert parent["reply_count"] == 1
    assert parent["latest_reply"] == ts(2 * DAY + 3700)
    assert thread["messages"][0]["reply_count"] == 1


def test_ts_strings_are_kept_exact(tmp_path: Path) -> None:
    exact = "1767571200.000100"  # float("1767571200.000100") prints as 1767571200.0001
    files = export_files(**{"supply-chain/2026-01-05.json": [msg(exact, "precise")]})
    api = ExportApi(write_folder(tmp_path / "export", files))

    assert exact in history(api, oldest=exact, inclusive="1")


def test_unknown_channel_thread_and_bad_bounds_are_slack_errors(tmp_path: Path) -> None:
    api = ExportApi(write_folder(tmp_path / "export", export_files()))

    assert api.call("conversations.history", {"channel": "C999"}) == {
        "ok": False,
        "error": "channel_not_found",
    }
    assert api.call("conversations.replies", {"channel": "C001", "ts": ts(5)})["error"] == (
        "thread_not_found"
    )
    assert api.call("chat.postMessage", {})["error"] == "unknown_method"
    bad_bound = api.call("conversations.history", {"channel": "C001", "oldest": "NaN"})
    assert bad_bound == {"ok": False, "error": "invalid_ts_oldest"}


def test_lists_channels_users_and_auth(build: Callable[[dict[str, Any]], Path]) -> None:
    api = ExportApi(build(export_files()), url="https://acme.slack.com/")

    channels = api.call("conversations.list", {"types": "public_channel,private_channel"})
    users = api.call("users.list", {"limit": 1})

    assert [c["id"] for c in channels["channels"]] == ["C001", "C002"]
    assert all(c["is_member"] for c in channels["channels"])
    assert channels["channels"][1]["is_archived"] is True
    assert channels["channels"][0]["topic"] == {"value": "parts"}
    assert [u["id"] for u in users["members"]] == ["U001"]
    assert users["response_metadata"]["next_cursor"]
    assert api.call("auth.test", {})["url"] == "https://acme.slack.com/"
    assert api.stats.calls["conversations.list"] == 1


def test_private_channels_dms_and_mpims_are_listed_by_type(tmp_path: Path) -> None:
    files = export_files(
        **{
            "groups.json": [{"id": "G001", "name": "npi-secret"}],
            "dms.json": [{"id": "D001", "members": ["U001", "U002"]}],
            "mpims.json": [{"id": "G002", "name": "mpdm-ana--ben--cy-1"}],
            "npi-secret/2026-01-05.json": [msg(ts(10), "EVT build moved")],
            "D001/2026-01-05.json": [msg(ts(20), "dm hello")],
            "mpdm-ana--ben--cy-1/2026-01-05.json": [msg(ts(30), "group dm")],
        }
    )
    api = ExportApi(write_folder(tmp_path / "export", files))

    def ids(types: str) -> list[str]:
        return [c["id"] for c in api.call("conversations.list", {"types": types})["channels"]]

    assert ids("public_channel") == ["C001", "C002"]
    assert ids("private_channel") == ["G001"]
    assert ids("im,mpim") == ["G002", "D001"]
    for channel, expected in [("G001", ts(10)), ("D001", ts(20)), ("G002", ts(30))]:
        body = api.call("conversations.history", {"channel": channel})
        assert [m["ts"] for m in body["messages"]] == [expected]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[{not json", "not valid JSON"),
        ({"messages": []}, "expected a JSON list of messages"),
        ('[{"ts": "1.1"} {"ts": "1.2"}]', "expected ',' or ']'"),
        ('[{"ts": "1.1"}] trailing', "extra data"),
    ],
)
def test_malformed_day_file_error_names_the_file_and_the_problem(
    build: Callable[[dict[str, Any]], Path], content: Any, reason: str
) -> None:
    api = ExportApi(build(export_files(**{"supply-chain/2026-01-06.json": content})))

    with pytest.raises(ExportFormatError, match=reason) as raised:
        history(api)

    assert raised.value.file == "supply-chain/2026-01-06.json"
    assert "supply-chain/2026-01-06.json" in str(raised.value)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "message", "text": "no ts"}, "no 'ts'"),
        ({"type": "message", "ts": 1767571200.5}, "'ts' 1767571200.5 is not a Slack ts"),
    ],
)
def test_a_bad_message_is_one_skipped_record_even_when_bad_files_raise(
    tmp_path: Path, message: dict[str, Any], reason: str
) -> None:
    files = export_files()
    files["supply-chain/2026-01-06.json"].insert(1, message)
    api = ExportApi(write_folder(tmp_path / "export", files))

    assert history(api) == [ts(2 * DAY + 3600), ts(DAY + 120), ts(DAY + 60), ts(7200, 100), PARENT]
    assert api.skipped_records == 1
    (skipped,) = api.skipped_record_list
    assert skipped.startswith(f"supply-chain/2026-01-06.json#1: {reason}")


def test_skip_policy_records_the_bad_file_and_serves_the_other_days(
    build: Callable[[dict[str, Any]], Path],
) -> None:
    files = export_files(**{"supply-chain/2026-01-06.json": "[{oops"})
    api = ExportApi(build(files), on_bad_file="skip")

    assert history(api) == [ts(2 * DAY + 3600), ts(7200, 100), PARENT]
    history(api)  # read again: still reported once
    assert len(api.bad_files) == 1
    file, reason = api.bad_files[0]
    assert file == "supply-chain/2026-01-06.json"
    assert "not valid JSON" in reason


def test_skip_policy_also_covers_a_bad_users_file(tmp_path: Path) -> None:
    api = ExportApi(
        write_folder(tmp_path / "export", export_files(**{"users.json": {"members": []}})),
        on_bad_file="skip",
    )

    assert api.call("users.list", {})["members"] == []
    assert api.bad_files == [("users.json", "expected a JSON list of objects")]


def test_missing_channels_json_is_a_clear_error(tmp_path: Path) -> None:
    files = export_files()
    del files["channels.json"]

    with pytest.raises(ExportFormatError, match=r"channels\.json.*missing"):
        ExportApi(write_folder(tmp_path / "export", files))
    with pytest.raises(ExportFormatError, match=r"channels\.json.*missing"):
        ExportApi(write_zip(tmp_path / "export.zip", files))


def test_malformed_channels_json_raises_even_when_skipping(tmp_path: Path) -> None:
    files = export_files(**{"channels.json": "nope"})

    with pytest.raises(ExportFormatError, match=r"channels\.json.*not valid JSON"):
        ExportApi(write_folder(tmp_path / "export", files), on_bad_file="skip")


def test_path_that_is_not_an_export_is_a_clear_error(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")

    with pytest.raises(ExportFormatError, match="expected a ZIP file or a folder"):
        ExportApi(text_file)
    with pytest.raises(ExportFormatError, match="expected a ZIP file or a folder"):
        ExportApi(tmp_path / "does-not-exist")


def test_export_served_over_http_to_the_real_client(tmp_path: Path) -> None:
    api = ExportApi(write_zip(tmp_path / "export.zip", export_files()))

    with FakeSlackServer(api, token="xoxb-test") as server:
        web = WebApi("xoxb-test", server.base_url)
        messages = list(
            paginate(web, "conversations.history", {"channel": "C001", "limit": 2}, "messages")
        )
        replies = web.call("conversations.replies", {"channel": "C001", "ts": PARENT})

    assert [m["ts"] for m in messages] == history(api)
    assert len(replies["messages"]) == 4


def test_an_export_has_no_own_app_unless_it_is_configured(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "export", export_files())
    plain = ExportApi(root).call("auth.test", {})
    assert plain["ok"] is True
    assert not {"user_id", "bot_id", "app_id"} & set(plain)  # nothing in it is our own post
    assert AppIdentity.from_auth_test(plain) == NO_IDENTITY

    configured = ExportApi(root, own_app=["U06DGST8B0T", "B06DGST8B0T", "A06DGST8APP"])
    assert app_identity(configured) == AppIdentity("U06DGST8B0T", "B06DGST8B0T", "A06DGST8APP")


@pytest.mark.parametrize("ids", [["digest-bot"], ["C0CHANNEL"], ["U0ONE", "U0TWO"], ["B" * 40]])
def test_a_bad_own_app_id_is_refused(tmp_path: Path, ids: list[str]) -> None:
    root = write_folder(tmp_path / "export", export_files())
    with pytest.raises(ValueError, match=r"ID|two"):
        ExportApi(root, own_app=ids)
