"""``analyst_views``: the SQL views analysts query, (re)created in the warehouse schema."""

import dagster as dg

from digest_pipeline.defs.analytics.views import REQUIRED_TABLES, VIEWS, view_sql
from digest_pipeline.defs.storage.warehouse import Warehouse

# Bump when a view's SQL changes: the automation condition re-creates the views on deploy.
VIEWS_VERSION = "2"

# Create the views once the tables exist (the first time an upstream table is written), and again
# whenever their SQL changes; never on every hourly run.
VIEWS_AUTOMATION = (
    dg.AutomationCondition.missing()
    & dg.AutomationCondition.any_deps_updated()
    & ~dg.AutomationCondition.in_progress()
) | dg.AutomationCondition.code_version_changed()


@dg.asset(
    group_name="analytics",
    kinds={"sql", "view"},
    deps=list(REQUIRED_TABLES),
    code_version=VIEWS_VERSION,
    automation_condition=VIEWS_AUTOMATION,
    description=(
        "Views for analysts in schema digest: v_open_risks, v_latest_messages, v_risk_summary, "
        "v_channel_stats. Created with CREATE OR REPLACE VIEW; they hold no data."
    ),
)
def analyst_views(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    missing = [t for t in REQUIRED_TABLES if not warehouse.table_exists(t)]
    if missing:
        raise dg.Failure(
            f"analyst_views needs tables {missing} in schema {warehouse.schema_name}: "
            "materialize the hourly job for one partition first"
        )
    for view in VIEWS:
        try:
            warehouse.create_view(view.name, view_sql(view, warehouse.backend))
        except Exception as e:
            raise dg.Failure(f"creating view {view.name} on {warehouse.backend} failed: {e}") from e
    context.log.info(f"created {len(VIEWS)} views on {warehouse.backend}")
    return dg.MaterializeResult(
        metadata={
            "views": len(VIEWS),
            "backend": warehouse.backend,
            **{
                view.name: dg.MetadataValue.md(
                    f"{view.description}\n\n```sql\n{view_sql(view, warehouse.backend)}\n```"
                )
                for view in VIEWS
            },
        }
    )


analyst_views_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analyst_views_automation_sensor",
    target=[analyst_views],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Creates the analyst views once the tables exist and when their SQL changes.",
)
