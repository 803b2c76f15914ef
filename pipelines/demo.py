"""`crm-elt demo` and `crm-elt sandbox`: the real pipeline against the local API emulators."""
from __future__ import annotations

import tempfile
import time

import click
import duckdb

from pipelines.runner import Target, run_source
from sources import contracts
from sources.hotprofile.contract import DEMO_KEY
from sources.pipedrive.contract import DEMO_TOKEN


def run_demo(duckdb_path: str, *, deals: int = 300, clients: int = 1000) -> None:
    with tempfile.TemporaryDirectory(prefix="crm-elt-demo-") as state_dir:
        target = Target("duckdb", duckdb_path, state_dir, prefix="crm_elt_demo")
        for name, contract in contracts().items():
            with contract.demo({"deals": deals, "clients": clients}) as settings:
                click.echo(f"sandbox: {name} emulator up, loading")
                result = run_source(name, target, settings=settings)
            for table in result.tables:
                click.echo(f"  {result.dataset}.{table.table:<18} {table.rows:>7} rows  {table.requests:>4} requests")
    show_tables(duckdb_path)


def show_tables(duckdb_path: str) -> None:
    with duckdb.connect(duckdb_path, read_only=True) as con:
        names = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            f"WHERE table_schema IN ({', '.join(repr(name) for name in contracts())}) "
            "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\' "
            "ORDER BY 1, 2").fetchall()
        click.echo(f"\nLoaded into {duckdb_path}:")
        for schema, table in names:
            count = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]
            click.echo(f"  {schema}.{table:<28} {count:>8} rows")
    click.echo("\nTry:\n  duckdb " + duckdb_path + " \"SELECT status, count(*), sum(value) FROM pipedrive.deals "
               "WHERE NOT is_deleted GROUP BY status ORDER BY 2 DESC\"")
    click.echo("or in Python: duckdb.connect('" + duckdb_path + "', read_only=True).sql('FROM hotprofile.clients LIMIT 5').show()")


def serve_sandbox(port: int, *, deals: int, clients: int) -> None:
    from sandbox.hotprofile import HotProfileSandbox
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=1, deals=deals, token=DEMO_TOKEN, port=port) as pipedrive, \
            HotProfileSandbox(seed=1, clients=clients, api_key=DEMO_KEY, port=port + 1) as hotprofile:
        click.echo(f"Pipedrive emulator:  SOURCES__PIPEDRIVE__BASE_URL={pipedrive.base_url} "
                   f"SOURCES__PIPEDRIVE__API_TOKEN={DEMO_TOKEN}")
        click.echo(f"HotProfile emulator: SOURCES__HOTPROFILE__URL_INSTANCE={hotprofile.url_instance} "
                   f"SOURCES__HOTPROFILE__API_KEY={DEMO_KEY}")
        click.echo("Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
