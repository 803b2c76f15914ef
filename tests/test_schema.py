"""Declared schema: adversarial rows never create a dlt variant column (``*__v_*``), and two warehouses
loaded from different data in a different order get the same columns with the same types."""
from __future__ import annotations

from conftest import HP_KEY, PD_TOKEN, hp_settings, pd_settings, pg_rows, query, requires_postgres
from pipelines.runner import Target, run_source
from sandbox.hotprofile import HotProfileSandbox
from sandbox.pipedrive import PipedriveSandbox

COLUMNS_SQL = ("SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
               "WHERE table_schema IN ('pipedrive', 'hotprofile') AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\' "
               "AND table_name NOT IN ('status', '_crm_elt_runs')")
# DuckDB and Postgres spell the same types differently
SAME_TYPE = {"DOUBLE": "double precision", "BIGINT": "bigint", "VARCHAR": "character varying", "BOOLEAN": "boolean",
             "TIMESTAMP WITH TIME ZONE": "timestamp with time zone", "DATE": "date", "JSON": "jsonb",
             "DECIMAL(38,9)": "numeric", "text": "character varying"}


def adversarial_rounds(pd, fraction_first: bool):
    """Yield after each change: the first run sees one kind of value, later runs the other kind."""
    deal = min(d["id"] for d in pd.live("deals") if not d["is_deleted"])
    person = min(p["id"] for p in pd.live("persons"))
    firsts = {"value": 1234.5, "brand_new": 7} if fraction_first else {"value": 5000, "brand_new": "seven"}
    pd.update("deals", deal, **firsts)
    yield
    pd.tick(60)
    pd.update("deals", deal, value="12.75", title=424242, label_ids=3, brand_new=[1, 2] if fraction_first else 8.5)
    pd.update("persons", person, emails="not-a-list", owner_id="17")
    yield
    pd.tick(60)
    pd.update("deals", deal, value=99, brand_new={"nested": True})
    yield


def load(target: Target, seed: int, fraction_first: bool) -> PipedriveSandbox:
    with PipedriveSandbox(seed=seed, deals=40, token=PD_TOKEN, burst=10_000) as pd, \
            HotProfileSandbox(seed=seed, clients=60, leads=60, business_cards=30, api_key=HP_KEY, rate=None) as hp:
        for _ in adversarial_rounds(pd, fraction_first):
            run_source("pipedrive", target, settings=pd_settings(pd))
            run_source("hotprofile", target, settings=hp_settings(hp))
        return pd


def variant_columns(columns: list[tuple]) -> list[tuple]:
    return [c for c in columns if "__v_" in c[2]]


def test_adversarial_rows_never_make_a_variant_column_and_value_stays_numeric(target):
    pd = load(target, seed=1, fraction_first=False)
    columns = query(target, COLUMNS_SQL)
    assert columns and variant_columns(columns) == []
    types = {(c[1], c[2]): c[3] for c in columns}
    assert types[("deals", "value")] == "DOUBLE" and types[("deals", "title")] == "VARCHAR"
    assert types[("deals", "brand_new")] == "VARCHAR"                   # an unknown field: text, whatever came
    assert types[("deals", "label_ids")] == "JSON" and types[("deals", "first_won_time")] == "TIMESTAMP WITH TIME ZONE"
    total = query(target, "SELECT sum(value) FROM pipedrive.deals")[0][0]
    assert abs(total - sum(d["value"] for d in pd.live("deals") if d["value"] is not None)) < 1e-6
    deal = min(d["id"] for d in pd.live("deals") if not d["is_deleted"])
    assert query(target, f"SELECT value, title, brand_new FROM pipedrive.deals WHERE id = {deal}") == \
        [(99.0, "424242", '{"nested": true}')]


@requires_postgres
def test_duckdb_and_postgres_get_the_same_columns_from_different_data(target, postgres_db, tmp_path, monkeypatch):
    load(target, seed=1, fraction_first=True)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_db)
    load(Target("postgres", None, str(tmp_path / "pg-pipelines")), seed=2, fraction_first=False)
    duck = {(c[0], c[1], c[2]): SAME_TYPE.get(c[3], c[3]) for c in query(target, COLUMNS_SQL)}
    pg = {(c[0], c[1], c[2]): SAME_TYPE.get(c[3], c[3]) for c in pg_rows(postgres_db, COLUMNS_SQL)}
    assert variant_columns(list(pg)) == [] and variant_columns(list(duck)) == []
    assert set(duck) == set(pg), (sorted(set(duck) - set(pg))[:10], sorted(set(pg) - set(duck))[:10])
    differing = {k: (duck[k], pg[k]) for k in duck if duck[k] != pg[k]}
    assert differing == {}
