"""The team's verdicts on posted digests: reactions in Slack → ``risk_feedback`` → the next digest
and the risk model.

* :func:`digest_feedback_sensor` reads the reactions on the bot's own risk-line replies
  (``reactions.get``, one call per reply, at most :data:`MAX_CALLS_PER_TICK` a tick, round-robin
  over the replies of the last :data:`LOOKBACK_DAYS` days) and syncs ``risk_feedback``: a new
  (person, verdict) is inserted with ``given_at`` = when first seen; one whose reaction was removed
  is deleted (only rows that came from that same reply). Only people count: the app itself, bots,
  deleted and unknown users (not in ``slack_users``) are left out.
* :func:`apply_feedback` adjusts a digest's input frame: ``not_a_risk`` makes the message low and
  not needing attention; ``more_serious`` raises it to the level stored with the verdict (one above
  the line's when it was given); ``resolved`` flags the thread's messages up to the verdict
  (``feedback_resolved``) and takes them off "Act on these".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import dagster as dg
import duckdb
import pandas as pd
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from digest_pipeline.contract.enumerations import LEVEL_RANK, LEVELS
from digest_pipeline.defs.digest.delivery import (
    POSTS,
    DigestDelivery,
    DigestSlackResource,
    recorded_lines,
)
from digest_pipeline.defs.risk.labels import (
    FEEDBACK,
    MORE_SERIOUS,
    RESOLVED,
)
from digest_pipeline.defs.slack.ts import is_message_ts
from digest_pipeline.defs.storage.warehouse import Warehouse

NOT_A_RISK = "not_a_risk"
LOOKBACK_DAYS = 7  # replies older than this are no longer read
MAX_CALLS_PER_TICK = 20  # reactions.get is Tier 3 (50+/min); a tick every 5 min stays far below
MAX_REACTIONS = 50  # reaction kinds read per reply
MAX_USERS = 200  # users read per reaction
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
# Permanent: the token or the app is wrong; retrying cannot help.
_PERMANENT = frozenset(
    {"invalid_auth", "not_authed", "missing_scope", "account_inactive", "token_revoked"}
)


# -- reading reactions (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyTarget:
    """One risk-line reply to read: where it is and the risks it stands for."""

    channel_id: str
    ts: str
    level: str
    message_ids: tuple[str, ...]
    thread_ids: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.channel_id}:{self.ts}"


def reply_targets(posts: pd.DataFrame) -> list[ReplyTarget]:
    """The line replies recorded in ``digest_posts`` rows, in a stable order; malformed ones out."""
    out: dict[str, ReplyTarget] = {}
    for post in posts.to_dict("records"):
        channel_id = str(post.get("channel_id") or "")
        for line in recorded_lines(post.get("line_replies")):
            ts, level = str(line.get("ts") or ""), str(line.get("level") or "")
            message_ids = tuple(str(m) for m in line.get("message_ids") or [])
            thread_ids = tuple(str(t) for t in line.get("thread_ids") or [])
            if not (channel_id and is_message_ts(ts) and level in LEVELS and message_ids):
                continue
            if len(thread_ids) != len(message_ids):
                thread_ids = message_ids
            target = ReplyTarget(channel_id, ts, level, message_ids, thread_ids)
            out[target.ref] = target
    return [out[ref] for ref in sorted(out)]


def reaction_votes(
    message: Mapping[str, Any],
    reactions: Mapping[str, str],
    humans: set[str],
) -> set[tuple[str, str]]:
    """(user ID, verdict) pairs from a ``reactions.get`` message: known reactions by people.

    Skin tones (``+1::skin-tone-2``) count as the reaction; IDs that are malformed or not in
    ``humans`` (the app, bots, deleted or unknown users) are left out; lists are bounded.
    """
    votes = set()
    raw = message.get("reactions")
    for reaction in (raw if isinstance(raw, list) else [])[:MAX_REACTIONS]:
        if not isinstance(reaction, Mapping):
            continue
        name = str(reaction.get("name") or "").split("::", 1)[0]
        verdict = reactions.get(name)
        users = reaction.get("users")
        if verdict is None or not isinstance(users, list):
            continue
        for user in users[:MAX_USERS]:
            if isinstance(user, str) and _USER_ID.match(user) and user in humans:
                votes.add((user, verdict))
    return votes


def implied_level(verdict: str, line_level: str) -> str | None:
    """The level a verdict means for a line shown at ``line_level``."""
    if verdict == NOT_A_RISK:
        return "low"
    if verdict == MORE_SERIOUS:
        return LEVELS[min(LEVEL_RANK[line_level] + 1, len(LEVELS) - 1)]
    return None


def feedback_rows(
    target: ReplyTarget, votes: Iterable[tuple[str, str]], now: datetime
) -> pd.DataFrame:
    """``risk_feedback`` rows for ``votes`` on one reply: one per (message, person, verdict)."""
    rows = [
        {
            "message_id": message_id,
            "user_id": user,
            "verdict": verdict,
            "given_at": now,
            "source": "reaction",
            "risk_level": implied_level(verdict, target.level),
            "thread_id": thread_id,
            "source_ref": target.ref,
        }
        for user, verdict in sorted(votes)
        for message_id, thread_id in zip(target.message_ids, target.thread_ids, strict=True)
    ]
    return FEEDBACK.frame(rows)


# -- the sensor -----------------------------------------------------------------------------------


@dataclass
class TickReport:
    checked: int = 0
    added: int = 0
    retracted: int = 0
    gone: int = 0  # replies deleted in Slack: their rows are kept
    stopped: str = ""  # why the tick stopped early (rate limited)
    errors: list[str] = field(default_factory=list)

    def text(self, total: int) -> str:
        text = (
            f"checked {self.checked} of {total} digest replies: {self.added} verdict(s) added, "
            f"{self.retracted} retracted"
        )
        if self.gone:
            text += f", {self.gone} reply(ies) deleted in Slack"
        return text + (f"; stopped early: {self.stopped}" if self.stopped else "")


def _humans(warehouse: Warehouse, bot_user: str) -> set[str]:
    if not warehouse.table_exists("slack_users"):
        return set()
    users = warehouse.query('SELECT user_id, is_bot, deleted FROM {schema}."slack_users"')
    people = users.loc[
        ~users["is_bot"].fillna(False).astype(bool) & ~users["deleted"].fillna(False).astype(bool)
    ]
    return {str(u) for u in people["user_id"] if isinstance(u, str)} - {bot_user}


def _sync(
    warehouse: Warehouse, target: ReplyTarget, votes: set[tuple[str, str]]
) -> tuple[int, int]:
    """Make the reply's rows match ``votes``; returns (added, retracted)."""
    mine = {"source": "reaction", "source_ref": target.ref}
    rows = FEEDBACK.read(warehouse, mine, distinct=("user_id", "verdict"))
    held = set(zip(rows["user_id"], rows["verdict"], strict=True))
    new, gone = votes - held, held - votes
    if new:
        FEEDBACK.upsert(warehouse, feedback_rows(target, new, datetime.now(UTC)))
    for user, verdict in sorted(gone):
        FEEDBACK.delete(warehouse, {**mine, "user_id": user, "verdict": verdict})
    return len(new), len(gone)


def collect_feedback(
    client: WebClient,
    warehouse: Warehouse,
    targets: list[ReplyTarget],
    reactions: Mapping[str, str],
    *,
    after: str | None,
    budget: int = MAX_CALLS_PER_TICK,
) -> tuple[TickReport, str | None]:
    """Read reactions on up to ``budget - 1`` replies after ``after`` (round-robin) and sync
    ``risk_feedback``; returns the report and the last reply read (the next cursor)."""
    report = TickReport()
    refs = [t.ref for t in targets]
    start = next((i for i, ref in enumerate(refs) if after is not None and ref > after), 0)
    ordered = targets[start:] + targets[:start]
    last = after
    try:
        me = client.auth_test()
        humans = _humans(warehouse, str(me.get("user_id") or ""))
        for target in ordered[: max(0, budget - 1)]:  # auth.test is one call
            try:
                answer = client.reactions_get(
                    channel=target.channel_id, timestamp=target.ts, full=True
                )
            except SlackApiError as e:
                if e.response.get("error") != "message_not_found":
                    raise
                report.gone += 1
                last = target.ref
                continue
            message = answer.get("message")
            votes = reaction_votes(
                message if isinstance(message, Mapping) else {}, reactions, humans
            )
            added, retracted = _sync(warehouse, target, votes)
            report.checked += 1
            report.added += added
            report.retracted += retracted
            last = target.ref
    except SlackApiError as e:
        code = str(e.response.get("error"))
        if code in _PERMANENT:
            hint = "check SLACK_BOT_TOKEN" if code != "missing_scope" else "add reactions:read"
            raise dg.Failure(f"digest_feedback_sensor: Slack said {code} ({hint})") from e
        report.stopped = code  # ratelimited past the SDK's retries, or a transient error
    except SlackRequestError as e:
        report.stopped = type(e).__name__
    return report, last


@dg.sensor(
    name="digest_feedback_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Reads the team's reactions on the digest's risk-line replies in Slack (❌ not a risk, "
        "⬆️ more serious, ✅ resolved; DIGEST_FEEDBACK_REACTIONS) into risk_feedback, which the "
        "next digest and the risk model use. At most 20 Slack calls a tick; skips without a "
        "token or posted digests."
    ),
)
def digest_feedback_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: Warehouse,
    delivery: DigestDelivery,
    slack_chat: DigestSlackResource,
) -> dg.SensorResult | dg.SkipReason:
    # Configuration first: without a token the warehouse is not even opened.
    if not delivery.posts_digests:
        return dg.SkipReason("digests are not posted (DIGEST_POST_CHANNEL and SLACK_BOT_TOKEN)")
    try:
        if not POSTS.exists(warehouse):
            return dg.SkipReason("no digest posted yet")
        posts = POSTS.window(warehouse, datetime.now(UTC) - timedelta(days=LOOKBACK_DAYS))
        targets = reply_targets(posts)
        if not targets:
            return dg.SkipReason(f"no risk-line replies posted in the last {LOOKBACK_DAYS} days")
        report, last = collect_feedback(
            slack_chat.get_client(),
            warehouse,
            targets,
            delivery.feedback_reactions,
            after=context.cursor or None,
        )
    except duckdb.IOException as e:  # a run holds the DuckDB file: next tick
        return dg.SkipReason(f"warehouse busy: {type(e).__name__}")
    context.log.info(report.text(len(targets)))
    return dg.SensorResult(skip_reason=report.text(len(targets)), cursor=last)


# -- the next digest ------------------------------------------------------------------------------

FEEDBACK_COLUMN = "feedback_resolved"  # True: a person marked the thread resolved (✅)


def read_feedback(warehouse: Warehouse) -> pd.DataFrame:
    """``risk_feedback`` as the digest needs it (empty when the table does not exist)."""
    columns = ["message_id", "verdict", "given_at", "risk_level", "thread_id"]
    # A table written by hand may lack the optional columns: they read as null.
    return cast(pd.DataFrame, FEEDBACK.read(warehouse)[columns])  # pandas: columns select a frame


def _thread_of(frame: pd.DataFrame) -> pd.Series:
    replies = frame["is_reply"].fillna(False).astype(bool) & frame["parent_id"].notna()
    # pandas is untyped here: one column selects a Series.
    return cast(pd.Series, frame["parent_id"].where(replies, frame["id"]))


def apply_feedback(frame: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """The digest's input frame adjusted by people's verdicts (a copy; ``frame`` is untouched).

    Per message the latest of ``not_a_risk`` / ``more_serious`` wins (as in training):
    ``not_a_risk`` → risk_level low, requires_attention False; ``more_serious`` → at least the
    level stored with the verdict (one above the line's when given; never lowered, never raised
    twice). ``resolved`` → every message of the thread up to the verdict gets
    ``feedback_resolved`` True and requires_attention False (a later message reopens it).
    """
    out = frame.copy()
    out[FEEDBACK_COLUMN] = False
    if out.empty or feedback.empty:
        return out
    given = pd.to_datetime(feedback["given_at"], utc=True, errors="coerce")
    feedback = feedback.assign(given_at=given).dropna(subset=["given_at"])
    levels = feedback.loc[feedback["verdict"].isin([NOT_A_RISK, MORE_SERIOUS])]
    latest = levels.sort_values("given_at", kind="stable").groupby("message_id").tail(1)
    for row in latest.itertuples(index=False):
        hit = out["id"] == row.message_id
        if not hit.any():
            continue
        if row.verdict == NOT_A_RISK:
            out.loc[hit, "risk_level"] = "low"
            out.loc[hit, "requires_attention"] = False
            continue
        wanted = str(row.risk_level) if row.risk_level in LEVEL_RANK else None
        for index in out.index[hit]:
            current = str(out.at[index, "risk_level"])
            target = wanted or implied_level(MORE_SERIOUS, current) or current
            if LEVEL_RANK.get(target, 0) > LEVEL_RANK.get(current, 0):
                out.at[index, "risk_level"] = target
    resolved = feedback.loc[feedback["verdict"] == RESOLVED]
    if not resolved.empty:
        threads = resolved["thread_id"].where(resolved["thread_id"].notna(), resolved["message_id"])
        until = resolved.assign(thread=threads).groupby("thread")["given_at"].max()
        thread = _thread_of(out)
        stamps = pd.to_datetime(out["timestamp"], utc=True)
        marked = thread.isin(until.index) & (stamps <= thread.map(until))
        out.loc[marked, FEEDBACK_COLUMN] = True
        out.loc[marked, "requires_attention"] = False
    return out
