"""`crm-elt demo` and `crm-elt sandbox`: the real pipeline against the local API emulators."""
from __future__ import annotations

import signal
import tempfile
import time
from contextlib import ExitStack

import click
import duckdb

from pipelines.runner import Target, run_source
from sources import contracts, settings_env


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
    examples = [contract.example for contract in contracts().values() if contract.example]
    click.echo("\nTry:")
    click.echo(f"  crm-elt sql --duckdb {duckdb_path} \"SELECT * FROM pipedrive.pipeline_funnel\"")
    for example in examples:
        click.echo(f"  duckdb {duckdb_path} \"{example}\"")
    click.echo("or in Python: duckdb.connect('" + duckdb_path + "', read_only=True).sql('...').show()")


def serve_sandbox(port: int, *, deals: int, clients: int) -> None:
    """Every source's emulator on consecutive ports until Ctrl-C, with the variables that point runs at it."""
    # Ctrl-C stops it even when started from a shell that ignores SIGINT for background jobs
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with ExitStack() as stack:
        for offset, (name, contract) in enumerate(contracts().items()):
            settings = stack.enter_context(contract.demo({"deals": deals, "clients": clients}, port=port + offset))
            variables = " ".join(f"{key}={value}" for key, value in settings_env(name, settings).items())
            click.echo(f"{name} emulator: {variables}")
        click.echo("Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
