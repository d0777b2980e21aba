"""Analyst views over the digest tables, the same on DuckDB and PostgreSQL.

They answer what the original system's HTTP API answered, in plain SQL:

* ``v_open_risks`` — ``/api/risk-assessment``: one row per thread still at risk (medium or above,
  not closed by a low message after its last risky one), with its most severe message;
* ``v_latest_messages`` — ``/api/messages/latest``: messages with their assessment, to filter by
  channel, urgency, category and order by ``timestamp``;
* ``v_risk_summary`` — risk counts per UTC day, channel, level and category;
* ``v_channel_stats`` — ``/api/stats``: per channel volume, urgency, sentiment, risks.

The SQL is portable except for the case-insensitive word match that recognises a resolution;
table names are unqualified and resolve in the views' own schema.
"""

from dataclasses import dataclass

# The words that mark a low message as closing its thread, as the digest uses them
# (digest/build.py). A test keeps the two lists equal.
RESOLUTION_WORDS = (
    "resolved",
    "fixed",
    "back up",
    "back online",
    "passed",
    "cleared",
    "released",
    "closed",
    "closing",
    "recovered",
    "no longer",
    "all good",
    "under control",
    "false alarm",
)


@dataclass(frozen=True)
class View:
    name: str
    description: str
    sql: str  # with {resolved} where the dialect's word match goes


def _resolved(column: str, backend: str) -> str:
    words = "|".join(RESOLUTION_WORDS)
    if backend == "postgres":
        return rf"{column} ~* '\y({words})\y'"
    return rf"regexp_matches({column}, '(?i)\b({words})\b')"


_LEVEL_RANK = (
    "CASE r.risk_level WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"
)

V_LATEST_MESSAGES = View(
    "v_latest_messages",
    "Messages and replies with their risk assessment; filter by channel, urgency, category.",
    f"""
SELECT m.id AS message_id, m.channel_id, m.channel, m.user_id, m."user", m."timestamp",
       m.content, m.message_type, m.urgency, m.category, m.sentiment_score, m.priority_level,
       m.is_reply, COALESCE(m.parent_id, m.id) AS thread_id, m.permalink,
       r.risk_level, r.risk_category, r.description AS risk_description, r.confidence_score,
       r.requires_attention, {_LEVEL_RANK} AS risk_rank
FROM messages AS m
LEFT JOIN risk_assessments AS r ON r.message_id = m.id
""",
)

V_OPEN_RISKS = View(
    "v_open_risks",
    "Threads still at risk: their most severe message (medium or above), unless a low message "
    "after the thread's last risky one says it is over. One row per thread.",
    f"""
WITH assessed AS (
    SELECT m.id AS message_id, COALESCE(m.parent_id, m.id) AS thread_id, m.channel_id,
           m.channel, m.user_id, m."user", m."timestamp", m.content, m.permalink, r.risk_level,
           r.risk_category, r.description, r.confidence_score, r.requires_attention,
           r.mitigation_suggestions, {_LEVEL_RANK} AS risk_rank
    FROM messages AS m
    JOIN risk_assessments AS r ON r.message_id = m.id
),
ranked AS (
    SELECT a.*,
           row_number() OVER (PARTITION BY thread_id
                              ORDER BY risk_rank DESC, "timestamp" DESC) AS severity_order,
           row_number() OVER (PARTITION BY thread_id ORDER BY "timestamp" DESC) AS recency_order,
           count(*) OVER (PARTITION BY thread_id) AS thread_messages,
           max("timestamp") OVER (PARTITION BY thread_id) AS last_activity_at,
           min(CASE WHEN risk_rank >= 2 THEN "timestamp" END)
               OVER (PARTITION BY thread_id) AS first_flagged_at,
           max(CASE WHEN risk_rank >= 2 THEN "timestamp" END)
               OVER (PARTITION BY thread_id) AS last_flagged_at
    FROM assessed AS a
),
closed AS (
    -- A low message saying it is over, after the last risky one ("Nice!" may follow it).
    SELECT DISTINCT thread_id FROM ranked AS c
    WHERE c.risk_rank = 1 AND c."timestamp" > c.last_flagged_at AND {{resolved}}
)
SELECT k.thread_id, k.channel_id, k.channel, k.risk_level, k.risk_rank, k.risk_category,
       k.description, k.confidence_score, k.requires_attention, k.mitigation_suggestions,
       k.message_id, k.permalink,
       k."user" || COALESCE(', ' || NULLIF(u.title, ''), '') AS raised_by,
       k."timestamp" AS raised_at, k.first_flagged_at, k.last_activity_at, k.thread_messages
FROM ranked AS k
LEFT JOIN slack_users AS u ON u.user_id = k.user_id
WHERE k.severity_order = 1 AND k.risk_rank >= 2
  AND k.thread_id NOT IN (SELECT thread_id FROM closed)
""",
)

V_RISK_SUMMARY = View(
    "v_risk_summary",
    "Assessments per UTC day, channel, risk level and category, with attention counts.",
    f"""
SELECT CAST(r.message_timestamp AT TIME ZONE 'UTC' AS DATE) AS day, r.channel_id,
       m.channel, r.risk_level, {_LEVEL_RANK} AS risk_rank, r.risk_category,
       count(*) AS assessments,
       count(*) FILTER (WHERE r.requires_attention) AS requiring_attention,
       avg(r.confidence_score) AS avg_confidence,
       min(r.message_timestamp) AS first_at, max(r.message_timestamp) AS last_at
FROM risk_assessments AS r
LEFT JOIN messages AS m ON m.id = r.message_id
GROUP BY 1, 2, 3, 4, 5, 6
""",
)

V_CHANNEL_STATS = View(
    "v_channel_stats",
    "Per channel: messages, threads, replies, urgency, sentiment, risks and open risks.",
    """
WITH per_channel AS (
    SELECT m.channel_id, max(m.channel) AS channel, count(*) AS messages,
           count(*) FILTER (WHERE NOT m.is_reply) AS threads,
           count(*) FILTER (WHERE m.is_reply) AS replies,
           count(DISTINCT m.user_id) AS authors,
           count(*) FILTER (WHERE m.urgency IN ('high', 'critical')) AS urgent_messages,
           count(*) FILTER (WHERE r.risk_level = 'critical') AS critical_risks,
           count(*) FILTER (WHERE r.risk_level = 'high') AS high_risks,
           count(*) FILTER (WHERE r.risk_level = 'medium') AS medium_risks,
           count(*) FILTER (WHERE r.requires_attention) AS requiring_attention,
           avg(m.sentiment_score) AS avg_sentiment,
           min(m."timestamp") AS first_message_at, max(m."timestamp") AS last_message_at,
           count(*) FILTER (WHERE m."timestamp" >= now() - INTERVAL '24 hours') AS messages_24h
    FROM messages AS m
    LEFT JOIN risk_assessments AS r ON r.message_id = m.id
    GROUP BY m.channel_id
),
open_risks AS (
    SELECT channel_id, count(*) AS open_risks FROM v_open_risks GROUP BY channel_id
)
SELECT p.channel_id, COALESCE(c.name, p.channel) AS channel, c.is_private, c.is_archived,
       p.messages, p.threads, p.replies, p.authors, p.urgent_messages, p.critical_risks,
       p.high_risks, p.medium_risks, p.requiring_attention,
       COALESCE(o.open_risks, 0) AS open_risks, p.avg_sentiment, p.first_message_at,
       p.last_message_at, p.messages_24h
FROM per_channel AS p
LEFT JOIN slack_channels AS c ON c.channel_id = p.channel_id
LEFT JOIN open_risks AS o ON o.channel_id = p.channel_id
""",
)

# In creation order: v_channel_stats reads v_open_risks.
VIEWS = (V_LATEST_MESSAGES, V_OPEN_RISKS, V_RISK_SUMMARY, V_CHANNEL_STATS)
REQUIRED_TABLES = ("slack_channels", "slack_users", "messages", "risk_assessments")


def view_sql(view: View, backend: str) -> str:
    """The view's SELECT for ``backend`` (``duckdb`` or ``postgres``)."""
    return view.sql.replace("{resolved}", _resolved("c.content", backend)).strip()
