"""Millisecond checks of the structure: every registry entry against the APIs' own descriptions, the
contracts, the plain dlt sources (settings injected by dlt, accounts by clone) and import hygiene."""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import openapi, reference
from sources import PACKAGES, account_source, contracts, spec_source
from sources._errors import ConfigError
from sources.hotprofile.tables import TABLES as HOTPROFILE
from sources.pipedrive.columns import COLUMNS, INCLUDE_FIELDS
from sources.pipedrive.custom_fields import ENTITIES, FLAT, NESTED
from sources.pipedrive.paginators import CURSOR, OFFSET, ONE_PAGE, V2_LIMIT
from sources.pipedrive.readers import CDC, FIELDS, ReadStrategy
from sources.pipedrive.tables import TABLES as PIPEDRIVE

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pipedrive_spec() -> dict[str, dict]:
    return {version: openapi(f"pipedrive/openapi-{version}.yaml")["paths"]
            for version in ("v1", "v2")}


@pytest.mark.parametrize("name", PIPEDRIVE)
def test_pipedrive_entry_matches_the_openapi_description(name, pipedrive_spec):
    table = PIPEDRIVE[name]
    assert isinstance(table.read, ReadStrategy)
    assert table.primary_key in COLUMNS[name] and set(table.timestamps) <= set(COLUMNS[name])
    for endpoint in table.endpoints:
        version, path = ("v2", endpoint.path.removeprefix("/api/v2")) if endpoint.path.startswith("/api/v2/") \
            else ("v1", endpoint.path.removeprefix("/v1"))
        operation = pipedrive_spec[version][path]["get"]
        assert endpoint.cost == operation["x-token-cost"], endpoint.path
        params = {p.get("name") for p in operation.get("parameters", [])}
        if version == "v2":
            assert table.paging is CURSOR and "cursor" in params and table.page_size <= V2_LIMIT, endpoint.path
        else:
            # v1 only where v2 has no list of it (v1 lists of the core entities are out of support)
            assert path not in pipedrive_spec["v2"], f"{endpoint.path}: use /api/v2{path}"
            # field lists are all read by one pager (``fetch_fields``): an unpaged one answers in one page
            paged = "start" in params or table.read is FIELDS
            assert table.paging is (OFFSET if paged else ONE_PAGE), endpoint.path
        if table.include_fields:
            assert "include_fields" in params and INCLUDE_FIELDS[name], endpoint.path
    assert table.row_format is (FLAT if table.custom_fields and table.paging is OFFSET else NESTED)
    if table.custom_fields:
        assert table.custom_fields in ENTITIES
    if table.read.per_deal:
        assert PIPEDRIVE[table.parent].read is CDC, "children follow a CDC parent that queues its deals"
    else:
        assert table.parent is None


@pytest.mark.parametrize("name", HOTPROFILE)
def test_hotprofile_entry_matches_the_swagger(name):
    from sources.hotprofile import paginators

    spec = json.loads(reference("hotprofile/apiDefinition.swagger.json").read_text())
    table = HOTPROFILE[name]
    operation = spec["paths"][table.path]["post"]
    params = {p["name"]: p for p in operation.get("parameters", [])}
    assert table.since_param in params and table.until_param in params
    assert table.paging in (paginators.keyset_pages, paginators.numbered_pages)
    assert ("search[from_id]" in params) == (table.paging is paginators.keyset_pages)
    assert "id" in table.columns and "updated_at" in table.columns


def test_every_hotprofile_table_has_a_path_setting():
    from sources.hotprofile import hotprofile_source

    assert {f"{name}_path" for name in HOTPROFILE} <= set(inspect.signature(hotprofile_source).parameters)


def test_contracts_are_listed_once_and_build_offline():
    found = contracts()
    assert list(found) == list(PACKAGES)
    for name, contract in found.items():
        source = spec_source(name)                  # no credentials, no request
        assert source.name == name and list(source.resources) == list(contract.tables)
        assert [row[0] for row in contract.catalog()] == list(contract.tables)


@pytest.fixture
def clean_config(monkeypatch):
    for key in list(os.environ):
        if key.startswith("SOURCES__"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT)                         # the repository's .dlt/ sets no source values
    return monkeypatch


def test_an_account_reads_its_section_first_then_the_shared_one(clean_config):
    from sources.pipedrive import pipedrive_source

    clean_config.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "shared-token-123456")
    clean_config.setenv("SOURCES__PIPEDRIVE__COMPANY_DOMAIN", "acme")
    clean_config.setenv("SOURCES__PIPEDRIVE__EU__COMPANY_DOMAIN", "acme-eu")
    clean_config.setenv("SOURCES__PIPEDRIVE__EU__RATE_LIMIT_BURST", "80")
    default, eu = pipedrive_source(), pipedrive_source.clone(name="eu", section="pipedrive")()
    client = lambda source: source.resources["deals"]  # noqa: E731  (resources only: nothing is requested)
    assert client(default) is not None and eu.name == "eu"
    stable = account_source("pipedrive", "eu")
    assert stable.name == "pipedrive" and list(stable.resources) == list(PIPEDRIVE)


@pytest.mark.parametrize("env, message", [
    ({}, "missing sources.pipedrive.eu.api_token: set it in .dlt/secrets.toml or the environment variable "
         "SOURCES__PIPEDRIVE__EU__API_TOKEN"),
    ({"SOURCES__PIPEDRIVE__API_TOKEN": "t-123456789"}, "missing sources.pipedrive.eu.company_domain"),
    ({"SOURCES__PIPEDRIVE__API_TOKEN": "t-123456789", "SOURCES__PIPEDRIVE__EU__COMPANY_DOMAIN": "a.b/c"},
     "sources.pipedrive.eu.company_domain: 'a.b/c' is not a company domain"),
    ({"SOURCES__PIPEDRIVE__API_TOKEN": "t-123456789", "SOURCES__PIPEDRIVE__BASE_URL": "http://x",
      "SOURCES__PIPEDRIVE__EU__RATE_LIMIT_BURST": "fast"}, "sources.pipedrive.eu.rate_limit_burst: 'fast' is not a valid int"),
    ({"SOURCES__PIPEDRIVE__API_TOKEN": "t-123456789", "SOURCES__PIPEDRIVE__BASE_URL": "http://x",
      "SOURCES__PIPEDRIVE__EU__START_DATE": "yesterday"}, "sources.pipedrive.eu.start_date: 'yesterday' is not an ISO"),
])
def test_account_config_errors_are_one_line_naming_the_key(clean_config, env, message):
    for key, value in env.items():
        clean_config.setenv(key, value)
    with pytest.raises(ConfigError) as error:
        account_source("pipedrive", "eu")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_hotprofile_path_errors_name_the_account_key(clean_config):
    clean_config.setenv("SOURCES__HOTPROFILE__API_KEY", "k-123456789")
    clean_config.setenv("SOURCES__HOTPROFILE__URL_INSTANCE", "x.hot-profile.com")
    clean_config.setenv("SOURCES__HOTPROFILE__TOKYO__LEADS_PATH", "https://elsewhere/leads")
    with pytest.raises(ConfigError, match=r"^sources\.hotprofile\.tokyo\.leads_path must be a path"):
        account_source("hotprofile", "tokyo")


IMPORT_ALL = """
import importlib, os, pkgutil, sys
before = dict(os.environ)
skip = {"pipelines.airflow_dag"}          # an Airflow DAG file: imports airflow, which only Airflow has
for package in ("sources", "pipelines", "destinations", "sandbox"):
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        if module.name not in skip:
            importlib.import_module(module.name)
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(",".join(changed))
"""


def test_importing_any_module_changes_no_environment_variable():
    env = {k: v for k, v in os.environ.items() if k != "EXTRACT__NEXT_ITEM_MODE"}
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("shared", ["API_TOKEN", "SOURCES__API_TOKEN"])
def test_a_token_under_a_key_every_source_shares_is_never_sent(clean_config, shared):
    """dlt falls back to generic keys; a token set there for another tool must not go to Pipedrive."""
    clean_config.setenv(shared, "another-tools-token-1234")
    clean_config.setenv("SOURCES__PIPEDRIVE__BASE_URL", "http://127.0.0.1:9")
    for account in (None, "eu"):
        with pytest.raises(ConfigError, match=r"api_token was found only under a key every source shares"):
            account_source("pipedrive", account)
    clean_config.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "another-tools-token-1234")    # said on purpose
    assert account_source("pipedrive", "eu").name == "pipedrive"


def test_a_host_under_a_key_every_source_shares_is_never_used(clean_config):
    clean_config.setenv("SOURCES__HOTPROFILE__API_KEY", "k-123456789")
    clean_config.setenv("URL_INSTANCE", "elsewhere.example.com")
    with pytest.raises(ConfigError, match=r"^url_instance was found only under .*sources\.hotprofile\.url_instance"):
        account_source("hotprofile")
