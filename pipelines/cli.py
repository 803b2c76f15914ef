"""`crm-elt`: run, backfill, demo, tables, sandbox. Exit codes: 0 ok, 1 load/API failure,
2 bad usage or configuration, 4 API budget exhausted (the next run continues)."""
from __future__ import annotations

import logging
import sys
from typing import Any, Callable

import click

from pipelines.config import SOURCES, parse_date
from pipelines.runner import REGISTRIES, RunResult, Target, run_source
from sources._http import BudgetExhausted, CrmEltError, redact
from sources._incremental import Window

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_BUDGET = 0, 1, 2, 4


def _split(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def target_options(fn: Callable) -> Callable:
    fn = click.option("--pipelines-dir", type=click.Path(file_okay=False),
                      help="dlt working directory for pipeline state (default: dlt's ~/.dlt/pipelines).")(fn)
    fn = click.option("--duckdb", "duckdb_path", type=click.Path(dir_okay=False), default=None,
                      help="DuckDB file to load (default crm.duckdb).")(fn)
    fn = click.option("--destination", default=None,
                      help="Any dlt destination name (postgres, bigquery, snowflake, motherduck...), "
                           "configured in .dlt/ or env vars. Default: duckdb.")(fn)
    return fn


def print_result(result: RunResult, quiet: bool) -> None:
    if quiet:
        return
    for table in result.tables:
        click.echo(f"{result.dataset}.{table.table:<18} rows={table.rows:<7} requests={table.requests:<5} "
                   f"tokens={table.tokens:<6} {table.seconds:.1f}s")
    click.echo(f"{result.dataset}: loaded in {result.seconds:.1f}s")


def execute(sources: list[str], quiet: bool, **kw: Any) -> None:
    """Run each source; map errors to one stderr line and an exit code."""
    stopped = None
    for source in sources:
        try:
            result = run_source(source, **kw)
        except CrmEltError as exc:
            click.echo(f"crm-elt: {source}: {redact(exc)}", err=True)
            sys.exit(exc.exit_code)
        print_result(result, quiet)
        stopped = stopped or result.stopped
    if stopped:
        click.echo(f"crm-elt: {redact(stopped)}", err=True)
        sys.exit(BudgetExhausted.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log HTTP requests and retries (secrets redacted).")
def cli(verbose: bool) -> None:
    """Incremental ELT of Pipedrive and HotProfile into DuckDB or any dlt destination."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("dlt").setLevel(logging.ERROR)


@cli.command()
@click.argument("source", type=click.Choice([*SOURCES, "all"]), default="all")
@click.option("--tables", multiple=True, help="Comma-separated tables to load (default: all). See `crm-elt tables`.")
@click.option("--full-refresh", multiple=True, metavar="TABLE", help="Forget TABLE's cursor and rescan it.")
@click.option("--account", default=None, help="Use [sources.<source>.ACCOUNT] settings, dataset and state.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@target_options
def run(source: str, tables: tuple[str, ...], full_refresh: tuple[str, ...], account: str | None, quiet: bool,
        destination: str | None, duckdb_path: str | None, pipelines_dir: str | None) -> None:
    """Load new and changed rows since the last run (first run: since start_date)."""
    sources = list(SOURCES) if source == "all" else [source]
    if source == "all" and (tables or full_refresh):
        raise click.UsageError("--tables/--full-refresh need a single SOURCE")
    execute(sources, quiet, target=Target(destination, duckdb_path, pipelines_dir), tables=_split(tables),
            account=account, full_refresh=_split(full_refresh))


@cli.command()
@click.argument("source", type=click.Choice(SOURCES))
@click.option("--from", "date_from", required=True, help="Window start, ISO date/datetime (UTC).")
@click.option("--to", "date_to", default=None, help="Window end (exclusive), ISO date/datetime; default now.")
@click.option("--tables", multiple=True, help="Comma-separated tables (default: all).")
@click.option("--account", default=None, help="Use [sources.<source>.ACCOUNT] settings, dataset and state.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@target_options
def backfill(source: str, date_from: str, date_to: str | None, tables: tuple[str, ...], account: str | None,
             quiet: bool, destination: str | None, duckdb_path: str | None, pipelines_dir: str | None) -> None:
    """Reload rows updated in a window; stored cursors are left where they are."""
    try:
        window = Window(parse_date(date_from, "--from"), parse_date(date_to, "--to"))
    except CrmEltError as exc:
        raise click.BadParameter(str(exc)) from None
    if window.end and window.end <= window.start:
        raise click.BadParameter("--to must be after --from")
    execute([source], quiet, target=Target(destination, duckdb_path, pipelines_dir), tables=_split(tables),
            account=account, window=window)


@cli.command()
def tables() -> None:
    """List every table: source, endpoint, primary key and load mode."""
    from pipelines.catalog import catalog_rows

    rows = catalog_rows()
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@cli.command()
@click.option("--duckdb", "duckdb_path", default="crm.duckdb", show_default=True, help="DuckDB file to load.")
@click.option("--deals", default=500, show_default=True, help="Sandbox size: Pipedrive deals.")
@click.option("--clients", default=1000, show_default=True, help="Sandbox size: HotProfile clients.")
def demo(duckdb_path: str, deals: int, clients: int) -> None:
    """Start the local API sandboxes, run the real pipeline against them, load DuckDB, show what loaded."""
    from pipelines.demo import run_demo

    try:
        run_demo(duckdb_path, deals=deals, clients=clients)
    except CrmEltError as exc:
        click.echo(f"crm-elt: demo: {exc}", err=True)
        sys.exit(exc.exit_code)


@cli.command()
@click.option("--port", default=8765, show_default=True, help="Pipedrive emulator port (HotProfile: port+1).")
@click.option("--deals", default=500, show_default=True)
@click.option("--clients", default=1000, show_default=True)
def sandbox(port: int, deals: int, clients: int) -> None:
    """Serve both API emulators until Ctrl-C (point base_url / url_instance at them)."""
    from pipelines.demo import serve_sandbox

    serve_sandbox(port, deals=deals, clients=clients)


def main() -> None:
    cli(prog_name="crm-elt")


if __name__ == "__main__":
    main()
