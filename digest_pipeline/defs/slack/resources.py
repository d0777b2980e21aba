"""``SlackSource``: one resource, three places messages can come from.

``kind`` picks the implementation of :class:`~digest_pipeline.defs.slack.models.SlackApi`:
the Web API (``slack``), an official workspace export (``export``) or the simulated demo workspace
(``demo``). Everything downstream is the same code, as in Dagster's ``project_fully_featured``
example where a real and a snapshot client share one interface.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import dagster as dg
from pydantic import Field

from digest_pipeline.defs.slack.extract import ChannelSelection
from digest_pipeline.defs.slack.models import ApiStats, SlackApi

# Slack's published limits: Tier 3 methods allow ~50 calls/min and pages of up to 200 are
# recommended. Commercially distributed non-Marketplace apps get 1 call/min and 15 items a page
# on conversations.history and conversations.replies.
RATE_TIERS: dict[str, tuple[int, dict[str, float]]] = {
    "tier3": (200, {"conversations.history": 1.2, "conversations.replies": 1.2}),
    "strict": (15, {"conversations.history": 60.0, "conversations.replies": 60.0}),
}


@lru_cache(maxsize=4)
def _demo_workspace(seed: int, scale: float) -> SlackApi:
    # One workspace per process, so generated channel-hours are reused across assets of a run.
    from digest_pipeline.demo.workspace import DemoWorkspace

    return DemoWorkspace(seed=seed, scale=scale)


class SlackSource(dg.ConfigurableResource):
    """Where Slack messages come from, and which channels to read."""

    kind: str = Field(default="demo", description="demo, slack or export")
    token: str | None = Field(
        default=None, description="Bot token (xoxb-…), bound to the SLACK_BOT_TOKEN variable."
    )
    base_url: str = Field(default="https://slack.com/api/", description="Web API base URL.")
    export_path: str | None = Field(default=None, description="Export ZIP or folder.")
    channels: list[str] = Field(default_factory=list, description="Channel names or IDs to read.")
    exclude_channels: list[str] = Field(default_factory=list, description="Names or IDs to skip.")
    include_archived: bool = False
    include_bots: bool = Field(default=True, description="Keep bot posts (marked) in messages.")
    thread_lookback_days: int = Field(default=14, ge=0)
    rate_tier: str = Field(default="tier3", description="tier3 or strict")
    max_retries: int = Field(default=5, ge=0)
    demo_seed: int = 7
    demo_scale: float = 1.0

    @property
    def selection(self) -> ChannelSelection:
        return ChannelSelection(
            include=tuple(self.channels),
            exclude=tuple(self.exclude_channels),
            include_archived=self.include_archived,
        )

    @property
    def lookback(self) -> timedelta:
        return timedelta(days=self.thread_lookback_days)

    @property
    def page_limit(self) -> int:
        return RATE_TIERS[self.rate_tier][0]

    def open_api(self) -> SlackApi:
        if self.kind == "demo":
            from datetime import UTC, datetime

            workspace = _demo_workspace(self.demo_seed, self.demo_scale)
            workspace.now = datetime.now(UTC)  # type: ignore[attr-defined]
            workspace.stats = ApiStats()  # per-run figures for the metadata
            return workspace
        if self.kind == "export":
            from digest_pipeline.defs.slack.export import ExportApi

            if not self.export_path:
                raise dg.Failure("DIGEST_SOURCE=export needs SLACK_EXPORT_PATH")
            return ExportApi(self.export_path, on_bad_file="skip")
        if self.kind == "slack":
            from digest_pipeline.defs.slack.api import WebApi

            if not self.token:
                raise dg.Failure("DIGEST_SOURCE=slack needs SLACK_BOT_TOKEN")
            return WebApi(
                token=self.token,
                base_url=self.base_url,
                max_retries=self.max_retries,
                min_interval_s=RATE_TIERS[self.rate_tier][1],
            )
        raise dg.Failure(f"DIGEST_SOURCE={self.kind!r} is not valid; allowed: demo, slack, export")
