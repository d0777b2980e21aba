"""Digest content on crafted inputs: ranking, changes between windows, audience, opt-out."""

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from digest_pipeline.defs.digest.build import (
    OVERALL,
    DigestInputs,
    build_digest,
    thread_risks,
)

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def _msg(
    i: int,
    level: str,
    *,
    channel: str = "C1",
    parent: int | None = None,
    text: str = "text",
    attention: bool | None = None,
    minute: int | None = None,
    **extra,
) -> dict:
    return {
        "id": f"{channel}:{i}",
        "channel_id": channel,
        "channel": {"C1": "supply-chain", "C2": "exec", "C3": "quiet"}[channel],
        "user": f"user{i}",
        "timestamp": T0 + timedelta(minutes=minute if minute is not None else i),
        "content": text,
        "permalink": f"https://x.slack.com/archives/{channel}/p{i}",
        "is_reply": parent is not None,
        "parent_id": f"{channel}:{parent}" if parent is not None else None,
        "risk_level": level,
        "risk_category": "supply_chain",
        "description": f"risk {i}",
        "confidence_score": 0.8,
        "requires_attention": level in ("high", "critical") if attention is None else attention,
    } | extra


CHANNELS = pd.DataFrame(
    [
        {
            "channel_id": "C1",
            "name": "supply-chain",
            "is_private": False,
            "topic": "",
            "purpose": "",
        },
        {"channel_id": "C2", "name": "exec", "is_private": True, "topic": "", "purpose": ""},
        {
            "channel_id": "C3",
            "name": "quiet",
            "is_private": False,
            "topic": "[no-digest]",
            "purpose": "",
        },
    ]
)


def _digest(rows: list[dict], previous: list[dict] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    prev = pd.DataFrame(previous) if previous is not None else None
    return build_digest(DigestInputs(T0, T0 + timedelta(hours=1), frame, CHANNELS, prev), "Test")


def _overall(digest: pd.DataFrame) -> pd.Series:
    return digest.loc[digest["channel_id"] == OVERALL].iloc[0]


def test_risks_rank_by_level_and_a_thread_counts_once():
    rows = [
        _msg(1, "medium"),
        _msg(2, "high"),
        _msg(3, "low", parent=2),
        _msg(4, "critical", parent=2),  # escalates thread 2
        _msg(5, "high"),
    ]
    risks = thread_risks(pd.DataFrame(rows))
    # Thread 2 ranks first at its worst level, cited by the message that raised it, with the
    # escalating reply as its update.
    assert [r.message_id for r in risks] == ["C1:2", "C1:5", "C1:1"]
    assert risks[0].thread_id == "C1:2" and risks[0].level == "critical"
    assert risks[0].update_message_id == "C1:4" and risks[0].update_level == "critical"
    assert risks[1].update_message_id is None


def test_a_thread_is_cited_by_the_message_that_raised_the_risk_not_a_follow_up():
    rows = [
        _msg(1, "high", text="Pre-scan 7.6 dB over class B", attention=False),
        _msg(2, "high", parent=1, text="can we get a slot sooner?", attention=True),
    ]
    rows[1]["description"] = "Thread update: Emissions over the limit"
    (risk,) = thread_risks(pd.DataFrame(rows))
    assert risk.message_id == "C1:1" and risk.quote == "Pre-scan 7.6 dB over class B"
    assert risk.requires_attention  # the follow-up asked for action
    assert risk.update_message_id is None  # same level: not an update


def test_a_thread_raised_by_a_reply_is_cited_by_that_reply():
    rows = [
        _msg(1, "low", text="Weekly sync notes for the Talon build"),
        _msg(2, "high", parent=1, text="Line 2 down since 6am, 400 units stuck"),
        _msg(3, "medium", parent=1, text="ok looking"),
    ]
    (risk,) = thread_risks(pd.DataFrame(rows))
    assert risk.message_id == "C1:2" and risk.level == "high"
    assert risk.facts == ("stopped", "400 units")


def test_every_top_risk_cites_a_message_and_permalink():
    top = json.loads(_overall(_digest([_msg(1, "high"), _msg(2, "low")]))["top_risks"])
    assert len(top) == 1
    assert {k: top[0][k] for k in ("thread_id", "message_id", "permalink", "risk_level")} == {
        "thread_id": "C1:1",
        "message_id": "C1:1",
        "permalink": "https://x.slack.com/archives/C1/p1",
        "risk_level": "high",
    }
    assert top[0]["quote"] == "text"
    assert top[0]["timestamp"] == (T0 + timedelta(minutes=1)).isoformat()


def test_new_escalated_and_resolved_against_the_previous_window():
    previous = [_msg(10, "medium"), _msg(20, "high")]
    current = [
        _msg(11, "high", parent=10),  # thread 10 escalates medium -> high
        _msg(21, "low", parent=20, text="Fixed, line is back up"),  # thread 20 resolves
        _msg(30, "high"),  # new
    ]
    overall = _overall(_digest(current, previous))
    assert [r["thread_id"] for r in json.loads(overall["new_risks"])] == ["C1:30"]
    assert [r["thread_id"] for r in json.loads(overall["escalated_risks"])] == ["C1:10"]
    assert [r["thread_id"] for r in json.loads(overall["resolved_risks"])] == ["C1:20"]


def test_a_thanks_reply_does_not_resolve_a_risk():
    previous = [_msg(20, "high")]
    overall = _overall(
        _digest([_msg(21, "low", parent=20, text="thanks for the heads up")], previous)
    )
    assert json.loads(overall["resolved_risks"]) == []


def test_the_overall_digest_never_quotes_private_channels():
    digest = _digest(
        [_msg(1, "critical", channel="C2", text="board-only numbers"), _msg(2, "high")]
    )
    overall = _overall(digest)
    assert [r["channel_id"] for r in json.loads(overall["top_risks"])] == ["C1"]
    assert "board-only" not in overall["markdown"]
    # The private channel's own digest row still exists for its own audience.
    assert "C2" in set(digest["channel_id"])


def test_channels_opt_out_with_a_marker_in_topic_or_purpose():
    digest = _digest([_msg(1, "high", channel="C3"), _msg(2, "medium")])
    assert "C3" not in set(digest["channel_id"])
    assert json.loads(_overall(digest)["opted_out_channels"]) == ["C3"]


def test_an_empty_window_still_has_an_overall_row():
    empty = pd.DataFrame(columns=list(_msg(1, "low")))
    digest = build_digest(DigestInputs(T0, T0 + timedelta(hours=1), empty, CHANNELS), "Quiet hour")
    assert list(digest["channel_id"]) == [OVERALL]
    assert _overall(digest)["summary"] == "Quiet hour: no messages."


@pytest.mark.parametrize("level", ["low", "medium", "high", "critical"])
def test_counts_per_level_add_up(level):
    overall = _overall(_digest([_msg(1, level), _msg(2, "low")]))
    counts = {lv: overall[f"{lv}_count"] for lv in ("low", "medium", "high", "critical")}
    assert sum(counts.values()) == overall["message_count"] == 2
    assert counts[level] >= 1


USERS = pd.DataFrame(
    [
        {"user_id": "U1", "name": "dan", "real_name": "Dan Okafor", "title": "Supply Chain Mgr"},
        {"user_id": "U2", "name": "priya", "real_name": "Priya Nair", "title": "Commodity Manager"},
        {"user_id": "UB", "name": "mes", "real_name": "MES Alerts", "title": "", "is_bot": True},
    ]
)


def _risks(rows: list[dict]) -> list[dict]:
    frame = pd.DataFrame(rows)
    digest = build_digest(
        DigestInputs(T0, T0 + timedelta(hours=1), frame, CHANNELS, users=USERS), "Test"
    )
    return json.loads(_overall(digest)["top_risks"])


def test_the_owner_is_the_person_asked_in_the_thread():
    rows = [
        _msg(1, "high", user_id="U1", user="dan"),
        _msg(2, "low", parent=1, user_id="U1", user="dan", mentions='["U2"]'),
    ]
    (risk,) = _risks(rows)
    assert (risk["owner"], risk["owner_reason"]) == ("Priya Nair, Commodity Manager", "mentioned")


def test_without_a_mention_the_owner_is_who_raised_it_and_a_bot_alert_goes_to_its_first_human():
    (raised,) = _risks([_msg(1, "high", user_id="U1", user="dan")])
    assert (raised["owner"], raised["owner_reason"]) == (
        "Dan Okafor, Supply Chain Mgr",
        "raised",
    )
    bot_thread = [
        _msg(1, "high", user_id="UB", user="MES Alerts", is_bot=True),
        _msg(2, "low", parent=1, user_id="U2", user="priya"),
    ]
    (picked_up,) = _risks(bot_thread)
    assert picked_up["owner"] == "Priya Nair, Commodity Manager"
    # @here is nobody in particular.
    (here,) = _risks([_msg(1, "high", user_id="U1", user="dan", mentions='["here"]')])
    assert here["owner_reason"] == "raised"


def test_a_resolved_thread_is_listed_once_as_resolved_not_as_an_action():
    previous = [_msg(20, "high")]
    current = [_msg(21, "low", parent=20, text="Root cause found, yield recovered. Closing.")]
    overall = _overall(_digest([*current, _msg(30, "high")], previous))
    resolved = json.loads(overall["resolved_risks"])
    assert [(r["thread_id"], r["description"]) for r in resolved] == [("C1:20", "risk 20")]
    assert [a["thread_id"] for a in json.loads(overall["action_items"])] == ["C1:30"]
    assert overall["markdown"].count("risk 20") == 1


def test_each_risk_appears_once_in_the_daily_markdown():
    previous = [_msg(10, "medium")]
    current = [_msg(11, "high", parent=10), _msg(30, "critical"), _msg(40, "high")]
    markdown = _overall(_digest(current, previous))["markdown"]
    # The summary cites the top risks too; the digest's body lists each once.
    body = markdown.split("Risk threads:", 1)[1]
    for link in ("/p11", "/p30", "/p40"):
        assert body.count(link + ")") == 1, link
    assert "↑ from medium" in markdown


def test_a_window_with_no_previous_data_calls_nothing_new():
    overall = _overall(_digest([_msg(1, "high")], previous=[]))
    assert json.loads(overall["new_risks"]) == []
    assert "no new/escalated comparison" in overall["markdown"]


def test_urgent_questions_without_an_answer_are_listed():
    rows = [
        _msg(1, "high", text="Line 3 is down, who can approve the rework?", urgency="critical"),
        _msg(2, "low", text="@here can anyone cover the 3pm pickup?", mentions='["here"]'),
        _msg(3, "low", text="lunch?", urgency="low"),  # not urgent
        _msg(4, "low", text="Can we expedite?", urgency="high"),  # answered below
        _msg(5, "low", parent=4, text="yes, done", user="someone"),
        _msg(6, "low", text="Anyone on the FCC retest?", urgency="high", reply_count=2),
        _msg(7, "low", text="Need the PO number now?", urgency="high"),
        _msg(8, "low", parent=7, text="anyone?", user="user7"),  # the asker again: still unanswered
    ]
    questions = json.loads(_overall(_digest(rows))["unanswered_questions"])
    assert [q["message_id"] for q in questions] == ["C1:1", "C1:2", "C1:7"]
    assert [q["why"] for q in questions] == ["critical urgency", "@here", "high urgency"]


def test_private_channels_are_counted_not_named_in_the_overall_digest():
    overall = _overall(_digest([_msg(1, "critical", channel="C2"), _msg(2, "high")]))
    assert overall["message_count"] == 2
    assert overall["hidden_message_count"] == 1
    assert "#exec" not in overall["markdown"]


def test_an_allow_listed_private_channel_is_quoted_in_the_overall_digest():
    frame = pd.DataFrame([_msg(1, "critical", channel="C2", text="board numbers"), _msg(2, "high")])
    digest = build_digest(
        DigestInputs(
            T0, T0 + timedelta(hours=1), frame, CHANNELS, private_allow=frozenset({"exec"})
        ),
        "Test",
    )
    overall = _overall(digest)
    assert [r["channel_id"] for r in json.loads(overall["top_risks"])] == ["C2", "C1"]
    assert "board numbers" in overall["markdown"]


def test_the_same_issue_in_several_threads_is_one_line():
    rows = [
        _msg(1, "high", description="Component shortage on STM32H7"),
        _msg(2, "high", description="Component shortage on STM32H7", channel="C1"),
        _msg(3, "high", description="Component shortage on TPS65219"),
        _msg(4, "high", description="Component shortage"),  # no subject: a line of its own
        _msg(5, "high", description="Component shortage"),
    ]
    markdown = _overall(_digest(rows))["markdown"]
    assert markdown.count("**Component shortage on STM32H7**") == 1
    assert "2 threads in #supply-chain" in markdown
    assert markdown.count("**Component shortage on TPS65219**") == 1
    assert markdown.count("**Component shortage**") == 2


def test_within_a_level_what_is_at_stake_ranks_first_but_never_over_a_worse_level():
    rows = [
        _msg(1, "high", text="supplier email about the Q3 forecast"),
        _msg(2, "high", text="Walmart pulled the 60k unit order, $2.4M"),
        _msg(3, "medium", text="the $9M framework deal slipped a week, 500k units"),
        _msg(4, "critical", text="FCC failure, no figure"),
    ]
    risks = thread_risks(pd.DataFrame(rows))
    assert [r.message_id for r in risks] == ["C1:4", "C1:2", "C1:1", "C1:3"]
    assert risks[1].facts == ("$2.4M", "60k units")


def test_without_a_previous_window_no_risk_is_called_new():
    overall = _overall(_digest([_msg(1, "high")]))
    (item,) = json.loads(overall["action_items"]) or json.loads(overall["top_risks"])
    assert item["status"] is None


def test_every_medium_plus_thread_is_reachable_in_the_markdown():
    rows = [_msg(i, "high" if i < 15 else "medium", attention=True) for i in range(1, 41)]
    for row in rows:
        row["description"] = f"Supply risk on part-{row['id']}"
    markdown = _overall(_digest(rows))["markdown"]
    assert "## Act on these — 10 of 40 risk threads" in markdown
    assert "## Other medium+ risk threads (30)" in markdown
    for row in rows:
        assert f"part-{row['id']}**" in markdown


def test_a_figure_on_a_doubtful_risk_does_not_push_out_a_confident_one():
    rows = [
        _msg(1, "high", text="Inbound receipt: 40k units at the DC", confidence_score=0.35),
        _msg(2, "high", text="Launch slips ~6 weeks, telling sales today", confidence_score=0.95),
        _msg(3, "high", text="Walmart pulled the 60k unit order, $2.4M", confidence_score=0.9),
    ]
    assert [r.message_id for r in thread_risks(pd.DataFrame(rows))] == ["C1:3", "C1:2", "C1:1"]


def test_a_runaway_hour_lists_at_most_the_row_limit_but_counts_every_thread():
    # 450 risky top-level threads in one hour: the row's JSON lists stop at the limit (a
    # hostile or runaway hour must not write megabytes a row), the counts do not.
    from digest_pipeline.defs.digest.build import ROW_LIST_LIMIT

    rows = [_msg(i, "high", minute=i % 60) for i in range(ROW_LIST_LIMIT + 50)]
    overall = _overall(_digest(rows, previous=[_msg(9999, "low")]))
    actions = json.loads(overall["action_items"])
    assert len(actions) == ROW_LIST_LIMIT
    assert overall["attention_count"] == ROW_LIST_LIMIT + 50
    assert overall["high_count"] == ROW_LIST_LIMIT + 50
    assert len(json.loads(overall["new_risks"])) == ROW_LIST_LIMIT
