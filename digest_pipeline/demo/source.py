"""The demo workspace as a kind of ``SlackSource``: ``kind="demo"`` (``DIGEST_SOURCE=demo``).

Registered in pyproject.toml under the ``digest_pipeline.slack_sources`` entry points, so the
production resource finds it by name and never imports this package.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from digest_pipeline.defs.slack.models import ApiStats
from digest_pipeline.demo.workspace import DemoWorkspace

if TYPE_CHECKING:
    from digest_pipeline.defs.slack.resources import SlackSource


@lru_cache(maxsize=4)
def _workspace(seed: int, scale: float) -> DemoWorkspace:
    # One workspace per process, so generated channel-hours are reused across assets of a run.
    return DemoWorkspace(seed=seed, scale=scale)


def open_demo_api(source: SlackSource) -> DemoWorkspace:
    """The process's workspace for the source's seed and scale, its clock set to now and its
    call counts fresh for this run's metadata."""
    workspace = _workspace(source.demo_seed, source.demo_scale)
    workspace.now = datetime.now(UTC)
    workspace.stats = ApiStats()
    return workspace
