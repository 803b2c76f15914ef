"""Dagster definitions: every table of both CRMs an asset, partitioned by account.

    dagster dev -m pipelines.dagster_assets

One multi-asset per source (``dagster_dlt.dlt_assets``, asset keys ``dlt_<source>_<table>``), partitioned
by the accounts of ``sources.<source>.accounts`` (``pipelines.accounts``; ``default`` when none are listed).
A partition run loads one account with the pipeline name, dataset and state the CLI uses
(``crm-elt run <source> --account <account>``), so the two can take turns; the CLI's pipeline lock keeps
them from running the same account at once. Accounts are independent runs: they load in parallel on any
number of workers, except into one DuckDB file (one writer): DuckDB runs share the pool ``crm_elt_duckdb``
(``dagster instance concurrency set crm_elt_duckdb 1``).

Where to load: ``CRM_ELT_DESTINATION`` (a dlt destination name; default DuckDB), ``CRM_ELT_DUCKDB`` (the
DuckDB file, default ``crm.duckdb``), ``CRM_ELT_PIPELINES_DIR`` (dlt's working directory, default
the warehouse's own folder, as for ``crm-elt``), or ``build_definitions(...)``. Importing this module needs no credentials and makes
no request: the asset specs come from ``sources.spec_source``; credentials are read when a partition runs.
"""

import os
from typing import Any, Iterator

import dlt
from dagster import AssetExecutionContext, AssetsDefinition, AssetSpec, Definitions, StaticPartitionsDefinition
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

import sources
from destinations import make_destination, state_dir
from pipelines.accounts import account_of, configured_accounts, partition_key
from pipelines.lock import pipeline_lock
from pipelines.runner import dataset_name, one_resource_at_a_time, pipeline_name

DUCKDB_POOL = "crm_elt_duckdb"


class Translator(DagsterDltTranslator):
    """dagster-dlt's asset specs without the placeholder upstream asset it adds per table (a CRM table has
    no upstream asset in Dagster): 26 assets, not 52."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        return super().get_asset_spec(data).replace_attributes(deps=[])


def _pipeline(source: str, account: str | None, destination: str | None, duckdb_path: str | None,
              pipelines_dir: str | None) -> Any:
    return dlt.pipeline(pipeline_name=pipeline_name(source, account), dataset_name=dataset_name(source, account),
                        destination=make_destination(destination, duckdb_path), pipelines_dir=pipelines_dir)


def source_assets(source: str, destination: str | None = None, duckdb_path: str | None = None,
                  pipelines_dir: str | None = None) -> AssetsDefinition:
    """The tables of ``source`` as one multi-asset, one partition per configured account."""
    accounts = configured_accounts(source)
    duckdb = destination in (None, "", "duckdb")

    @dlt_assets(
        dlt_source=sources.spec_source(source),
        # the specs' pipeline only names the destination kind; each run builds its account's own pipeline
        dlt_pipeline=_pipeline(source, accounts[0], destination, duckdb_path, pipelines_dir),
        name=source,
        group_name=source,
        dagster_dlt_translator=Translator(),
        partitions_def=StaticPartitionsDefinition([partition_key(account) for account in accounts]),
        pool=DUCKDB_POOL if duckdb else None,
    )
    def load(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        account = account_of(context.partition_key)
        pipeline = _pipeline(source, account, destination, duckdb_path, pipelines_dir)
        with pipeline_lock(pipelines_dir, pipeline.pipeline_name), one_resource_at_a_time():
            yield from dlt.run(context=context, dlt_source=sources.account_source(source, account),
                               dlt_pipeline=pipeline)

    return load


def build_definitions(destination: str | None = None, duckdb_path: str | None = None,
                      pipelines_dir: str | None = None) -> Definitions:
    # the warehouse's own state folder by default: the CLI's runs into it share state and lock
    pipelines_dir = pipelines_dir or state_dir(destination, duckdb_path)
    return Definitions(assets=[source_assets(source, destination, duckdb_path, pipelines_dir)
                               for source in sources.contracts()],
                       resources={"dlt": DagsterDltResource()})


defs = build_definitions(os.environ.get("CRM_ELT_DESTINATION") or None, os.environ.get("CRM_ELT_DUCKDB") or None,
                         os.environ.get("CRM_ELT_PIPELINES_DIR") or None)
