"""Airflow DAG ``crm_elt``: every configured account of both CRMs, loaded with dlt's Airflow helper.

Install crm-elt (``pip install -e .``) where Airflow runs; copy this file and the project's ``.dlt/`` into
the dags folder (``PipelineTasksGroup`` points dlt's config there; ``SOURCES__*`` env vars work too).
One task group per source, one task per account of ``sources.<source>.accounts``; each task is a whole
run with the pipeline name, dataset and state of ``crm-elt run <source> --account <account>``, built when
the task runs (parsing the DAG needs no credentials and makes no request). The helper gives every task a
fresh, wiped working directory, so state is restored from the warehouse each run: ``CRM_ELT_DESTINATION``
should name a warehouse (postgres, bigquery, ...), where the accounts load in parallel; DuckDB (one
writer) needs an absolute ``CRM_ELT_DUCKDB`` and one task at a time.
"""
from __future__ import annotations

import os
from functools import partial

import dlt
import pendulum

import sources
from destinations import make_destination
from pipelines.accounts import configured_accounts
from pipelines.runner import dataset_name, pipeline_name

try:
    from airflow.decorators import dag
    from dlt.helpers.airflow_helper import PipelineTasksGroup
except ImportError:          # imported outside Airflow (tools, tests): no DAG, no error
    dag = None

DESTINATION = os.environ.get("CRM_ELT_DESTINATION") or None
DUCKDB = os.environ.get("CRM_ELT_DUCKDB") or None


def crm_elt() -> None:
    """One task group per source, one task (a whole run) per account."""
    for source in sources.contracts():
        # created first: it points dlt at the dags folder's .dlt/ and a fresh working directory
        group = PipelineTasksGroup(f"crm_elt_{source}", use_data_folder=False, wipe_local_data=True)
        for account in configured_accounts(source):
            pipeline = dlt.pipeline(pipeline_name=pipeline_name(source, account),
                                    dataset_name=dataset_name(source, account),
                                    destination=make_destination(DESTINATION, DUCKDB))
            # a callable is evaluated when the task runs (credentials then, not at parse time)
            group.add_run(pipeline, partial(sources.account_source, source, account), decompose="none")


if dag is not None:
    if DESTINATION in (None, "duckdb") and not (DUCKDB and os.path.isabs(DUCKDB)):
        raise ValueError("set CRM_ELT_DESTINATION to a warehouse, or CRM_ELT_DUCKDB to an absolute DuckDB path")
    crm_elt_dag = dag(schedule="*/30 * * * *", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
                      max_active_runs=1, default_args={"owner": "crm-elt", "retries": 0})(crm_elt)()
