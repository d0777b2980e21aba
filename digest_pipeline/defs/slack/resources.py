"""``SlackSource``: one resource, three places messages can come from.

``kind`` picks the implementation of :class:`~digest_pipeline.defs.slack.models.SlackApi`:
the Web API (``slack``), an official workspace export (``export``) or the simulated demo workspace
(``demo``). Everything downstream is the same code, as in Dagster's ``project_fully_featured``
example where a real and a snapshot client share one interface.

The first two are built here. Any other kind is a plug-in: a function ``(SlackSource) ->
SlackApi`` registered under its name in the :data:`SOURCE_PLUGINS` entry-point group of an
installed package. The demo workspace registers itself that way (``demo`` in pyproject.toml), so
production code never imports the demo package: the dependency points from the demo to here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import entry_points

import dagster as dg
from pydantic import Field

from digest_pipeline.defs.slack.api import RATE_TIERS, WebApi
from digest_pipeline.defs.slack.extract import (
    HISTORY_PAGE_LIMIT,
    LIST_PAGE_LIMIT,
    ChannelSelection,
)
from digest_pipeline.defs.slack.models import AUTH_ERRORS, SlackApi, SlackCallError

# Errors that no wait fixes: a rejected token, or a scope the app was not granted. A step failing
# with one is not retried (neither the asset's RetryPolicy nor a run retry): someone must act.
PERMANENT_ERRORS = AUTH_ERRORS | {"missing_scope"}


def slack_failure(e: SlackCallError) -> dg.Failure:
    """The step failure for a Slack error that stops an asset; permanent errors are final."""
    if e.is_auth_error:
        return dg.Failure(
            f"Slack rejected the bot token ({e.error}): check SLACK_BOT_TOKEN and the app's"
            " install",
            allow_retries=False,
        )
    if e.error in PERMANENT_ERRORS:
        return dg.Failure(
            f"{e}: add the scope to the Slack app and reinstall it", allow_retries=False
        )
    return dg.Failure(str(e))


# The entry-point group where packages register further kinds of source (see the module doc).
SOURCE_PLUGINS = "digest_pipeline.slack_sources"


def source_plugin(kind: str) -> Callable[[SlackSource], SlackApi] | None:
    """The function an installed package registered for ``kind``, or None."""
    for entry in entry_points(group=SOURCE_PLUGINS, name=kind):
        return entry.load()
    return None


class SlackSource(dg.ConfigurableResource):
    """Where Slack messages come from, and which channels to read."""

    kind: str = Field(default="demo", description="demo, slack or export")
    token: str | None = Field(
        default=None, description="Bot token (xoxb-…), bound to the SLACK_BOT_TOKEN variable."
    )
    base_url: str = Field(default="https://slack.com/api/", description="Web API base URL.")
    export_path: str | None = Field(default=None, description="Export ZIP or folder.")
    export_own_app: list[str] = Field(
        default_factory=list,
        description=(
            "IDs (bot user U…, bot B…, app A…) of the app whose posts in the export are this "
            "pipeline's own digests; an export has no own app otherwise."
        ),
    )
    export_on_bad_file: str = Field(
        default="skip",
        description="A malformed export file: 'skip' (named and counted in metadata) or 'raise'.",
    )
    export_max_file_bytes: int = Field(
        default=32 << 20,
        gt=0,
        description=(
            "Largest export file read (uncompressed; checked from the ZIP directory and while "
            "reading). A larger one is skipped and named in metadata (SLACK_EXPORT_MAX_FILE_MB)."
        ),
    )
    export_max_message_bytes: int = Field(
        default=1 << 20,
        gt=0,
        description="Largest message (its JSON) kept from an export; a larger one is skipped.",
    )
    channels: list[str] = Field(default_factory=list, description="Channel names or IDs to read.")
    exclude_channels: list[str] = Field(default_factory=list, description="Names or IDs to skip.")
    include_archived: bool = False
    include_bots: bool = Field(default=True, description="Keep bot posts (marked) in messages.")
    thread_lookback_days: int = Field(default=14, ge=0)
    auto_join: bool = Field(
        default=False,
        description="DIGEST_AUTO_JOIN: join selected public channels the bot is not in "
        "(conversations.join, scope channels:join)",
    )
    rate_tier: str = Field(default="tier3", description="tier3 or strict (see api.RATE_TIERS)")
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
        """Page size asked of conversations.list and users.list."""
        return LIST_PAGE_LIMIT

    @property
    def history_page_limit(self) -> int:
        """Page size asked of conversations.history/replies (the Web API caps it per tier)."""
        return HISTORY_PAGE_LIMIT

    def open_api(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> SlackApi:
        """A fresh client for one asset run (its ``stats`` count that run's calls).

        ``sleep``/``clock`` reach the Web API's pacing and retries, so tests never wait.
        """
        if self.kind == "export":
            from digest_pipeline.defs.slack.export import (
                ExportApi,
                ExportFormatError,
                ExportLimits,
            )

            if not self.export_path:
                raise dg.Failure("DIGEST_SOURCE=export needs SLACK_EXPORT_PATH")
            if self.export_on_bad_file not in ("skip", "raise"):
                raise dg.Failure(
                    f"export_on_bad_file={self.export_on_bad_file!r}: use 'skip' or 'raise'"
                )
            try:
                return ExportApi(
                    self.export_path,
                    on_bad_file="raise" if self.export_on_bad_file == "raise" else "skip",
                    own_app=self.export_own_app,
                    limits=ExportLimits(
                        max_file_bytes=self.export_max_file_bytes,
                        max_message_bytes=self.export_max_message_bytes,
                    ),
                )
            except ExportFormatError as e:
                raise dg.Failure(f"SLACK_EXPORT_PATH: {e}") from e
            except ValueError as e:
                raise dg.Failure(f"SLACK_EXPORT_OWN_APP: {e}") from e
        if self.kind == "slack":
            if not self.token:
                raise dg.Failure("DIGEST_SOURCE=slack needs SLACK_BOT_TOKEN")
            if self.rate_tier not in RATE_TIERS:
                allowed = ", ".join(RATE_TIERS)
                raise dg.Failure(
                    f"DIGEST_SLACK_RATE_TIER={self.rate_tier!r} is not valid; allowed: {allowed}"
                )
            return WebApi.for_rate_tier(
                self.token,
                self.base_url,
                tier=self.rate_tier,
                max_retries=self.max_retries,
                sleep=sleep,
                clock=clock,
            )
        plugin = source_plugin(self.kind)
        if plugin is not None:
            return plugin(self)
        if self.kind == "demo":
            raise dg.Failure(
                "DIGEST_SOURCE=demo: no demo workspace is registered (entry point 'demo' in"
                f" {SOURCE_PLUGINS}); install the package with `make setup`"
            )
        raise dg.Failure(f"DIGEST_SOURCE={self.kind!r} is not valid; allowed: demo, slack, export")
