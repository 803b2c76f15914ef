"""Every ```sql block in README.md runs against a warehouse loaded by the real pipeline from the emulators.

A query needs the tables it names as ``pipedrive.<table>`` / ``hotprofile.<table>`` (plus any listed on a
``-- needs: dataset.table, ...`` line). A table not yet in the source's registry skips only that query.
"""
from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from conftest import HP_KEY, PD_TOKEN, hp_settings, pd_settings
from pipelines.runner import Target, run_source
from pipelines.views import source_views
from sources import contracts

README = Path(__file__).resolve().parent.parent / "README.md"
BUILT_BY_RUNNER = {"status", "_crm_elt_runs"}          # every dataset has them (and its views) after a run
HISTORY = ("deals", "persons", "organizations")        # history_tables of the README's examples
TABLE_REF = re.compile(r"\b(pipedrive|hotprofile)\.(\w+)")


def readme_queries() -> list[str]:
    blocks = re.findall(r"^```sql\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [q.strip() for block in blocks for q in re.split(r";\s*$", block, flags=re.M) if strip_comments(q)]


def strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip()


def needed_tables(sql: str) -> set[tuple[str, str]]:
    needs = set(TABLE_REF.findall(sql))
    for line in re.findall(r"^\s*--\s*needs:(.*)$", sql, flags=re.M):
        needs |= {tuple(ref.strip().split(".", 1)) for ref in line.split(",") if "." in ref}
    return needs


def missing_tables(sql: str) -> list[str]:
    return sorted(f"{dataset}.{table}" for dataset, table in needed_tables(sql)
                  if table not in BUILT_BY_RUNNER | {view.name for view in source_views(dataset)}
                  and table.split("__")[0].removesuffix("_history") not in contracts()[dataset].tables)


def query_id(sql: str) -> str:
    first = sql.splitlines()[0]
    return first.lstrip("- ").strip() if first.startswith("--") else first[:40]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    from sandbox.hotprofile import HotProfileSandbox
    from sandbox.pipedrive import PipedriveSandbox

    folder = tmp_path_factory.mktemp("readme")
    target = Target("duckdb", str(folder / "crm.duckdb"), str(folder / "pipelines"))
    with PipedriveSandbox(seed=7, deals=300, token=PD_TOKEN, burst=10_000) as pd, \
            HotProfileSandbox(seed=7, clients=500, leads=300, business_cards=100, api_key=HP_KEY, rate=None) as hp:
        settings = pd_settings(pd, history_tables=HISTORY)
        run_source("pipedrive", target, settings=settings)
        run_source("hotprofile", target, settings=hp_settings(hp))
        # a second run after change: the history tables get closed and new versions
        pd.tick(60)
        pd.update("deals", 42, value=4242)
        pd.delete("deals", next(d["id"] for d in pd.live("deals") if not d["is_deleted"] and d["id"] != 42))
        pd.tick(60)
        run_source("pipedrive", target, settings=settings)
    return target.duckdb_path


def test_readme_has_example_queries_for_both_datasets():
    datasets = {dataset for sql in readme_queries() for dataset, _ in needed_tables(sql)}
    assert datasets == {"pipedrive", "hotprofile"}


@pytest.mark.parametrize("sql", readme_queries(), ids=query_id)
def test_readme_query_runs(sql, warehouse):
    missing = missing_tables(sql)
    if missing:
        pytest.skip(f"table(s) {', '.join(missing)} not in the source registry yet; the query is kept in README.md")
    with duckdb.connect(warehouse, read_only=True) as con:
        rows = con.execute(sql).fetchall()
    assert rows, f"README query returned no rows on the emulator data:\n{sql}"
