"""The configuration contract: environment variables, parsed and validated in one place.

Only :func:`load_settings` reads the environment, except ``DIGEST_TIMEZONE`` and
``DIGEST_START_DATE``: they shape the partitions, so ``defs/partitions.py`` reads them at import and
is the one place that holds them. ``definitions.py`` calls :func:`load_settings` once when the code
location loads; tests build :class:`Settings` directly. Secrets are *not* read here: resources
receive them through ``dg.EnvVar`` so their values never reach logs, metadata or the UI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from digest_pipeline.contract.enumerations import DEFAULT_REACTIONS, REACTION_VERDICTS
from digest_pipeline.defs.slack.export import own_app_fields
from digest_pipeline.defs.storage.errors import WarehouseConfigError, check_database_url

SOURCES = ("demo", "slack", "export")
WAREHOUSES = ("duckdb", "postgres")
SCORERS = ("auto", "model", "llm", "rules")
RATE_TIERS = ("tier3", "strict")

DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_MODEL_DIR = "data/models"
DEFAULT_LLM_MODEL = "gpt-4.1-mini"
LLM_MODES = ("sync", "batch")
DEFAULT_LLM_MAX_TOKENS_PER_RUN = 2_000_000
DEFAULT_LLM_CONCURRENCY = 8
DEFAULT_LLM_BATCH_SIZE = 20


class ConfigError(ValueError):
    """A configuration value is wrong. The message is one line naming the variable."""


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not valid; allowed values: {', '.join(allowed)}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


_REACTION_NAME = re.compile(r"^[a-z0-9_+'-]{1,64}$")


def _reactions(env: Mapping[str, str], name: str) -> tuple[tuple[str, str], ...]:
    """``x=not_a_risk,arrow_up=more_serious,white_check_mark=resolved`` (emoji names, no colons)."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return tuple(DEFAULT_REACTIONS.items())
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        emoji, _, verdict = item.strip().partition("=")
        emoji, verdict = emoji.strip().strip(":"), verdict.strip()
        if not _REACTION_NAME.match(emoji) or verdict not in REACTION_VERDICTS:
            raise ConfigError(
                f"{name}={raw!r}: {item.strip()!r} is not emoji=verdict; verdicts: "
                + ", ".join(REACTION_VERDICTS)
            )
        pairs[emoji] = verdict
    return tuple(pairs.items())


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name) or ""
    return tuple(item.strip().lstrip("#") for item in raw.split(",") if item.strip())


def parse_daily_at(value: str, name: str = "DIGEST_DAILY_AT") -> tuple[int, int]:
    try:
        hour_s, minute_s = value.split(":")
        hour, minute = int(hour_s), int(minute_s)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a time in HH:MM form") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ConfigError(f"{name}={value!r} is not a time in HH:MM form")
    return hour, minute


def check_duckdb_path(value: str, name: str = "DIGEST_DUCKDB_PATH") -> str:
    """Create the DuckDB file's folder, or fail with one line if it cannot be written."""
    path = Path(value)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"{name}={value!r}: cannot create folder {path.parent}: {e.strerror}"
        ) from None
    if path.exists() and path.is_dir():
        raise ConfigError(f"{name}={value!r} is a folder; expected a DuckDB file path")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{name}={value!r} is not writable")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the code location needs to know at load time (no secrets).

    The time zone and start date are not here: they belong to the partitions
    (``digest_pipeline.defs.partitions``), which read them once.
    """

    source: str = "demo"
    warehouse: str = "duckdb"
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    daily_at: tuple[int, int] = (7, 0)
    channels: tuple[str, ...] = ()
    exclude_channels: tuple[str, ...] = ()
    export_path: str | None = None
    export_own_app: tuple[str, ...] = ()
    export_max_file_mb: int = 32
    slack_base_url: str = "https://slack.com/api/"
    slack_rate_tier: str = "tier3"
    thread_lookback_days: int = 14
    include_bots: bool = True
    auto_join: bool = False
    scorer: str = "auto"
    labels_path: str | None = None
    model_dir: str = ""  # empty: models/ next to the DuckDB file, or data/models
    llm_model: str = DEFAULT_LLM_MODEL
    has_openai_key: bool = False
    openai_base_url: str | None = None
    llm_mode: str = "sync"
    llm_concurrency: int = DEFAULT_LLM_CONCURRENCY
    llm_batch_size: int = DEFAULT_LLM_BATCH_SIZE
    llm_max_tokens_per_run: int = DEFAULT_LLM_MAX_TOKENS_PER_RUN
    has_slack_token: bool = False
    has_database_url: bool = False
    post_channel: str | None = None
    alert_channel: str | None = None
    digest_dir: str = "data/digests"
    private_allow: tuple[str, ...] = ()
    post_hourly: bool = False
    feedback_reactions: tuple[tuple[str, str], ...] = tuple(DEFAULT_REACTIONS.items())
    demo_seed: int = 7
    demo_scale: float = 1.0
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_scorer(self) -> str:
        """auto: the risk model plus the LLM with a key, the risk model alone without one."""
        if self.scorer == "auto":
            return "llm" if self.has_openai_key else "model"
        return self.scorer

    @property
    def effective_model_dir(self) -> str:
        """``DIGEST_MODEL_DIR``; unset, ``models/`` beside the DuckDB file (``data/models``)."""
        if self.model_dir:
            return self.model_dir
        if self.warehouse == "duckdb":
            return str(Path(self.duckdb_path).parent / "models")
        return DEFAULT_MODEL_DIR


def _flag(env: Mapping[str, str], name: str) -> bool:
    """A true/false variable (unset: false); anything else is a one-line error."""
    raw = (env.get(name) or "false").strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name}={raw!r} is not valid; use true or false")
    return raw in ("true", "1", "yes")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate the environment; raise :class:`ConfigError` with one clear line."""
    env = os.environ if env is None else env
    source = _choice(env, "DIGEST_SOURCE", SOURCES, "demo")
    warehouse = _choice(env, "DIGEST_WAREHOUSE", WAREHOUSES, "duckdb")
    duckdb_path = env.get("DIGEST_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH
    if warehouse == "duckdb":
        check_duckdb_path(duckdb_path)
    has_database_url = bool(env.get("DATABASE_URL"))
    if warehouse == "postgres" and not has_database_url:
        raise ConfigError(
            "DIGEST_WAREHOUSE=postgres needs DATABASE_URL (postgresql://user@host/db)"
        )
    if warehouse == "postgres":
        # Parsed here only to fail at load with one redacted line; the value itself reaches the
        # resources through dg.EnvVar and is not kept in Settings.
        error = None
        try:
            check_database_url(env["DATABASE_URL"])
        except WarehouseConfigError as e:
            error = ConfigError(str(e.description))
        if error is not None:  # raised outside the except block: nothing chained
            raise error
    has_slack_token = bool(env.get("SLACK_BOT_TOKEN"))
    if source == "slack" and not has_slack_token:
        raise ConfigError("DIGEST_SOURCE=slack needs SLACK_BOT_TOKEN (a bot token, xoxb-...)")
    export_path = env.get("SLACK_EXPORT_PATH") or None
    if source == "export":
        if not export_path:
            raise ConfigError("DIGEST_SOURCE=export needs SLACK_EXPORT_PATH (export ZIP or folder)")
        if not Path(export_path).exists():
            raise ConfigError(f"SLACK_EXPORT_PATH={export_path!r} does not exist")
    export_own_app = _list(env, "SLACK_EXPORT_OWN_APP")
    try:
        own_app_fields(export_own_app)
    except ValueError as e:
        raise ConfigError(f"SLACK_EXPORT_OWN_APP: {e}") from None
    scale_raw = env.get("DIGEST_DEMO_SCALE") or "1"
    try:
        demo_scale = float(scale_raw)
    except ValueError:
        raise ConfigError(f"DIGEST_DEMO_SCALE={scale_raw!r} is not a number") from None
    if demo_scale <= 0:
        raise ConfigError(f"DIGEST_DEMO_SCALE={scale_raw!r} must be positive")
    include_bots = (env.get("DIGEST_INCLUDE_BOTS") or "true").strip().lower()
    if include_bots not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"DIGEST_INCLUDE_BOTS={include_bots!r} is not valid; use true or false")
    scorer = _choice(env, "DIGEST_SCORER", SCORERS, "auto")
    labels_path = env.get("DIGEST_LABELS_PATH") or None
    if labels_path and not labels_path.lower().endswith((".jsonl", ".csv")):
        raise ConfigError(f"DIGEST_LABELS_PATH={labels_path!r} must end in .jsonl or .csv")
    openai_base_url = env.get("OPENAI_BASE_URL") or None
    if scorer == "llm" and not env.get("OPENAI_API_KEY") and not openai_base_url:
        raise ConfigError(
            "DIGEST_SCORER=llm needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
            "OpenAI-compatible server)"
        )
    return Settings(
        source=source,
        warehouse=warehouse,
        duckdb_path=duckdb_path,
        daily_at=parse_daily_at(env.get("DIGEST_DAILY_AT") or "07:00"),
        channels=_list(env, "DIGEST_CHANNELS"),
        exclude_channels=_list(env, "DIGEST_EXCLUDE_CHANNELS"),
        export_path=export_path,
        export_own_app=export_own_app,
        export_max_file_mb=_int(env, "SLACK_EXPORT_MAX_FILE_MB", 32, minimum=1),
        slack_base_url=env.get("SLACK_API_BASE_URL") or "https://slack.com/api/",
        slack_rate_tier=_choice(env, "DIGEST_SLACK_RATE_TIER", RATE_TIERS, "tier3"),
        thread_lookback_days=_int(env, "DIGEST_THREAD_LOOKBACK_DAYS", 14, minimum=0),
        include_bots=include_bots in ("true", "1", "yes"),
        auto_join=_flag(env, "DIGEST_AUTO_JOIN"),
        scorer=scorer,
        labels_path=labels_path,
        model_dir=env.get("DIGEST_MODEL_DIR") or "",
        llm_model=env.get("DIGEST_LLM_MODEL") or DEFAULT_LLM_MODEL,
        has_openai_key=bool(env.get("OPENAI_API_KEY")),
        openai_base_url=openai_base_url,
        llm_mode=_choice(env, "DIGEST_LLM_MODE", LLM_MODES, "sync"),
        llm_concurrency=_int(env, "DIGEST_LLM_CONCURRENCY", DEFAULT_LLM_CONCURRENCY, minimum=1),
        llm_batch_size=_int(env, "DIGEST_LLM_BATCH_SIZE", DEFAULT_LLM_BATCH_SIZE, minimum=1),
        llm_max_tokens_per_run=_int(
            env, "DIGEST_LLM_MAX_TOKENS_PER_RUN", DEFAULT_LLM_MAX_TOKENS_PER_RUN, minimum=0
        ),
        has_slack_token=has_slack_token,
        has_database_url=has_database_url,
        post_channel=env.get("DIGEST_POST_CHANNEL") or None,
        alert_channel=env.get("DIGEST_ALERT_CHANNEL") or None,
        digest_dir=env.get("DIGEST_OUTPUT_DIR") or "data/digests",
        private_allow=_list(env, "DIGEST_PRIVATE_ALLOW"),
        post_hourly=(env.get("DIGEST_POST_HOURLY") or "false").strip().lower()
        in ("true", "1", "yes"),
        feedback_reactions=_reactions(env, "DIGEST_FEEDBACK_REACTIONS"),
        demo_seed=_int(env, "DIGEST_DEMO_SEED", 7),
        demo_scale=demo_scale,
    )
