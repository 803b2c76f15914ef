"""Dagster (``pipelines/dagster_assets.py``): the dlt assets of both CRMs, one partition per account, each
account loading its own dataset with its own token and state, shared with the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import HP_KEY
from pipelines.accounts import account_of, configured_accounts, partition_key
from sources import contracts
from sources._errors import ConfigError
from truth import assert_hotprofile_exact, assert_pipedrive_exact

ROOT = Path(__file__).resolve().parent.parent
TOKENS = {"eu": "pd-eu-token-0123456789abcdef", "us": "pd-us-token-fedcba9876543210"}


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Only what each test sets (env vars take precedence over .dlt/ files); the module's own ``defs``, built
    on its first import, point into tmp_path."""
    for key in ("API_TOKEN", "COMPANY_DOMAIN", "BASE_URL", "START_DATE"):
        monkeypatch.setenv(f"SOURCES__PIPEDRIVE__{key}", "")
    for key in ("API_KEY", "URL_INSTANCE", "START_DATE"):
        monkeypatch.setenv(f"SOURCES__HOTPROFILE__{key}", "")
    for key in ("SOURCES__PIPEDRIVE__RATE_LIMIT_BURST", "SOURCES__PIPEDRIVE__ACCOUNTS", "SOURCES__HOTPROFILE__ACCOUNTS",
                "CRM_ELT_DESTINATION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CRM_ELT_DUCKDB", str(tmp_path / "module.duckdb"))
    monkeypatch.setenv("CRM_ELT_PIPELINES_DIR", str(tmp_path / "module-pipelines"))
    return monkeypatch


def test_configured_accounts(env):
    assert configured_accounts("pipedrive") == [None]
    env.setenv("SOURCES__PIPEDRIVE__ACCOUNTS", "")
    assert configured_accounts("pipedrive") == [None]
    env.setenv("SOURCES__PIPEDRIVE__ACCOUNTS", '["eu", "us_2"]')
    assert configured_accounts("pipedrive") == ["eu", "us_2"]
    assert [partition_key(a) for a in [None, "eu"]] == ["default", "eu"]
    assert [account_of(p) for p in ["default", "eu"]] == [None, "eu"]
    for bad in ('["EU"]', '["eu-west"]', '["eu", "eu"]', '["default"]', '[]', '"eu"', "eu", "[1]"):
        env.setenv("SOURCES__HOTPROFILE__ACCOUNTS", bad)
        with pytest.raises(ConfigError) as error:
            configured_accounts("hotprofile")
        message = str(error.value)
        assert "sources.hotprofile.accounts" in message and "\n" not in message, (bad, message)


def test_import_needs_no_credentials_no_request_and_leaves_environ_alone(tmp_path):
    code = """
import os, socket
def no_request(*args, **kwargs):
    raise AssertionError("network access while importing")
socket.socket.connect = socket.socket.connect_ex = socket.create_connection = no_request
before = dict(os.environ)
import dagster
import pipelines.dagster_assets as module
assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())
dagster.Definitions.validate_loadable(module.defs)
print(sorted((a.node_def.name, len(a.keys), tuple(a.partitions_def.get_partition_keys())) for a in module.defs.assets))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "CRM_ELT_"))}
    env.update(PYTHONPATH=str(ROOT), RUNTIME__DLTHUB_TELEMETRY="false", CRM_ELT_DUCKDB=str(tmp_path / "crm.duckdb"),
               CRM_ELT_PIPELINES_DIR=str(tmp_path / "pipelines"), SOURCES__PIPEDRIVE__ACCOUNTS='["eu", "us"]')
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)       # cwd without .dlt/: no credentials anywhere
    assert done.returncode == 0, done.stderr[-3000:]
    tables = {name: len(contract.tables) for name, contract in contracts().items()}
    assert done.stdout.strip() == str(sorted([("hotprofile", tables["hotprofile"], ("default",)),
                                              ("pipedrive", tables["pipedrive"], ("eu", "us"))]))


def materialize(defs, source: str, partition: str) -> None:
    from dagster import materialize as run
    from dagster_dlt import DagsterDltResource

    assets = next(a for a in defs.assets if a.node_def.name == source)
    result = run([assets], partition_key=partition, resources={"dlt": DagsterDltResource()})
    assert result.success
    done = {m.asset_key.to_user_string() for m in result.asset_materializations_for_node(source)}
    assert done == {f"dlt_{source}_{table}" for table in contracts()[source].tables}


def test_pipedrive_accounts_and_hotprofile_load_as_partitions(env, tmp_path):
    from click.testing import CliRunner

    from pipelines.cli import cli
    from pipelines.dagster_assets import build_definitions
    from sandbox.hotprofile import HotProfileSandbox
    from sandbox.pipedrive import PipedriveSandbox

    path, pipelines_dir = str(tmp_path / "crm.duckdb"), str(tmp_path / "pipelines")

    def check(pipedrive: dict, hotprofile=None) -> None:
        with duckdb.connect(path, read_only=True) as con:
            fetch = lambda sql: con.execute(sql).fetchall()
            for account, sb in pipedrive.items():
                assert_pipedrive_exact(sb, fetch, dataset=f"pipedrive_{account}")
                names = {row[0] for row in fetch(f"SELECT pipeline_name FROM pipedrive_{account}._dlt_pipeline_state")}
                name = f"crm_elt_pipedrive_{account}"         # the CLI's pipeline (state) of that account
                assert name in names <= {name, f"{name}_runs"}, names     # (+ the CLI's run log)
            if hotprofile:
                assert_hotprofile_exact(hotprofile, fetch, dataset="hotprofile")

    env.setenv("SOURCES__PIPEDRIVE__ACCOUNTS", '["eu", "us"]')
    with PipedriveSandbox(seed=11, deals=40, token=TOKENS["eu"], burst=10_000) as eu, \
            PipedriveSandbox(seed=12, deals=40, token=TOKENS["us"], burst=10_000) as us, \
            HotProfileSandbox(seed=7, clients=40, leads=40, business_cards=40, api_key=HP_KEY, rate=None) as hp:
        boxes = {"eu": eu, "us": us}
        for account, sb in boxes.items():     # each account its own company: URL, token, pacing
            env.setenv(f"SOURCES__PIPEDRIVE__{account.upper()}__BASE_URL", sb.base_url)
            env.setenv(f"SOURCES__PIPEDRIVE__{account.upper()}__API_TOKEN", TOKENS[account])
            env.setenv(f"SOURCES__PIPEDRIVE__{account.upper()}__RATE_LIMIT_BURST", "10000")
            env.setenv(f"SOURCES__PIPEDRIVE__{account.upper()}__RECONCILE_EVERY_HOURS", "0")   # deletes: every run
        env.setenv("SOURCES__HOTPROFILE__API_KEY", HP_KEY)      # HotProfile: the default account
        env.setenv("SOURCES__HOTPROFILE__URL_INSTANCE", hp.url_instance)

        defs = build_definitions(duckdb_path=path, pipelines_dir=pipelines_dir)
        for account in boxes:
            materialize(defs, "pipedrive", account)
        materialize(defs, "hotprofile", "default")
        check(boxes, hp)

        # changes: the CLI continues the state Dagster left for eu, Dagster its own for us
        for seed, sb in enumerate(boxes.values(), start=20):
            sb.tick(60)
            sb.mutate(seed=seed, updates=10, inserts=4, deletes=3)
            sb.server.clear_requests()
        result = CliRunner().invoke(cli, ["run", "pipedrive", "--account", "eu", "--quiet", "--duckdb", path,
                                          "--pipelines-dir", pipelines_dir], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        materialize(defs, "pipedrive", "us")
        check(boxes)
        for sb in boxes.values():       # incremental: the deal lists read from the stored cursor (a lost
            deal_lists = sb.server.requests_to(r"^/api/v2/deals(/archived)?$")   # state would read all history)
            assert any("updated_since" in request.query for request in deal_lists)


def test_partition_failures_name_the_key_or_the_running_cli(env, tmp_path):
    from dagster import materialize as run
    from dagster_dlt import DagsterDltResource

    from pipelines.dagster_assets import build_definitions
    from pipelines.lock import RunLocked, pipeline_lock

    def failure(partition: str) -> BaseException:
        defs = build_definitions(duckdb_path=str(tmp_path / "crm.duckdb"), pipelines_dir=str(tmp_path / "p"))
        assets = next(a for a in defs.assets if a.node_def.name == "pipedrive")
        with pytest.raises(Exception) as error:
            run([assets], partition_key=partition, resources={"dlt": DagsterDltResource()})
        cause = error.value
        while cause.__cause__ is not None and not isinstance(cause, (ConfigError, RunLocked)):
            cause = cause.__cause__
        return cause

    env.setenv("SOURCES__PIPEDRIVE__ACCOUNTS", '["eu"]')
    env.setenv("SOURCES__PIPEDRIVE__EU__BASE_URL", "http://127.0.0.1:9")      # never reached
    missing = failure("eu")
    assert isinstance(missing, ConfigError) and "sources.pipedrive.eu.api_token" in str(missing)
    env.setenv("SOURCES__PIPEDRIVE__EU__API_TOKEN", TOKENS["eu"])
    with pipeline_lock(str(tmp_path / "p"), "crm_elt_pipedrive_eu"):          # a CLI run of eu in progress
        assert isinstance(failure("eu"), RunLocked)
