"""Pipeline: the jobs, schedules and sensors that span domains, from Slack to the digests.

The domains below (slack, enrichment, risk, digest, storage) define assets and their own
resources; this layer strings them into runs and reacts to what they produce. The sensors use
the domains' resources (``slack``, ``warehouse``, ``risk_model_store``, ``delivery``,
``slack_chat``), bound when the root merges every domain's definitions.
"""

import dagster as dg

from digest_pipeline.defs.pipeline.alerts import (
    critical_risk_alert_sensor,
    run_failure_alert_sensor,
)
from digest_pipeline.defs.pipeline.jobs import (
    daily_digest_job,
    daily_reconcile_job,
    hourly_digest_job,
)
from digest_pipeline.defs.pipeline.schedules import (
    build_daily_digest_schedule,
    daily_reconcile_sensor,
    hourly_digest_schedule,
)
from digest_pipeline.defs.pipeline.urgent import urgent_message_sensor
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    sensors = [daily_reconcile_sensor, urgent_message_sensor, critical_risk_alert_sensor]
    if settings.alert_channel:
        sensors.append(run_failure_alert_sensor)
    return dg.Definitions(
        jobs=[hourly_digest_job, daily_reconcile_job, daily_digest_job],
        schedules=[hourly_digest_schedule, build_daily_digest_schedule(settings.daily_at)],
        sensors=sensors,
    )
