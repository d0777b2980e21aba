"""The risk judgement every scorer (rules or LLM) returns for one message.

``RiskAssessment`` is also the LLM's structured-outputs ``response_format``: every field is
required, enumerations are ``Literal`` and unknown keys are rejected, so a reply that does not fit
the contract fails validation instead of reaching the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from digest_pipeline.contract.enumerations import LEVEL_RANK, Category, Level

MAX_DESCRIPTION_CHARS = 200
MAX_MITIGATIONS = 5


class RiskAssessment(BaseModel):
    """Business risk of one Slack message for a hardware go-to-market team."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    risk_level: Level = Field(description="low, medium, high or critical")
    risk_category: Category = Field(description="The hardware-GTM area the risk belongs to")
    description: str = Field(
        max_length=MAX_DESCRIPTION_CHARS, description="One line saying what the risk is"
    )
    confidence_score: float = Field(ge=0, le=1, description="Confidence in this judgement")
    mitigation_suggestions: list[str] = Field(
        max_length=MAX_MITIGATIONS, description="Concrete next actions, most useful first"
    )
    requires_attention: bool = Field(description="Someone should act on this soon")

    @field_validator("description")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("description must be a single line")
        return value

    @property
    def level_rank(self) -> int:
        """0 for low … 3 for critical: for sorting and "at least high" comparisons."""
        return LEVEL_RANK[self.risk_level]


# What every scorer looks like to the evaluation harness and the assets:
# (text, channel, thread_context) -> RiskAssessment.
Scorer = Callable[[str, str | None, str | None], RiskAssessment]


def one_line(text: str, limit: int = MAX_DESCRIPTION_CHARS) -> str:
    """``text`` collapsed to a single line of at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
