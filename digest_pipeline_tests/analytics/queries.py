"""The analyst queries docs/querying.md documents; tests run each one on both backends."""

DOCUMENTED_QUERIES = {
    "open_risks": """
SELECT channel, risk_level, risk_category, description, raised_by, raised_at, permalink
FROM digest.v_open_risks
ORDER BY risk_rank DESC, raised_at DESC
LIMIT 20
""",
    "latest_messages": """
SELECT "timestamp", channel, "user", urgency, category, risk_level, content
FROM digest.v_latest_messages
WHERE channel = 'supply-chain' AND urgency IN ('high', 'critical')
ORDER BY "timestamp" DESC
LIMIT 50
""",
    "risk_summary": """
SELECT day, risk_level, CAST(sum(assessments) AS BIGINT) AS assessments,
       CAST(sum(requiring_attention) AS BIGINT) AS requiring_attention
FROM digest.v_risk_summary
GROUP BY day, risk_level
ORDER BY day, risk_level
""",
    "channel_stats": """
SELECT channel, messages, urgent_messages, critical_risks, high_risks, open_risks,
       avg_sentiment
FROM digest.v_channel_stats
ORDER BY open_risks DESC, messages DESC
""",
}
