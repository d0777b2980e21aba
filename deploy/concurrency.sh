#!/usr/bin/env bash
# Set the concurrency pool limits of a production instance (run once; the limits live in
# instance storage). Needs DAGSTER_HOME pointing at a folder with deploy/dagster.yaml and
# DAGSTER_POSTGRES_URL set. Override a limit with e.g. OPENAI_POOL_LIMIT=8.
set -euo pipefail
dagster instance concurrency set slack "${SLACK_POOL_LIMIT:-1}"
dagster instance concurrency set openai "${OPENAI_POOL_LIMIT:-4}"
dagster instance concurrency set warehouse "${WAREHOUSE_POOL_LIMIT:-4}"
dagster instance concurrency get --all
