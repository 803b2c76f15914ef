"""`crm-elt`: run, backfill, plan, status, sql, views, demo, tables, sandbox. Exit codes: 0 ok, 1 load/API failure,
2 bad usage or configuration, 3 another run of the same pipeline holds its lock, 4 API budget exhausted
(the next run continues), 130/143 interrupted by SIGINT/SIGTERM (what was read is loaded; the next run
continues)."""
from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import click

from destinations.duckdb_lock import DEFAULT_LOCK_TIMEOUT
from sources import PACKAGES as SOURCES
from sources._config import parse_date
from pipelines.output import Reporter
from pipelines.runner import TablesFailed, Target, run_source
from pipelines.text_table import format_table
from sources import _stop as stop
from sources._errors import ConfigError, CrmEltError
from sources._redact import redact
from sources._incremental import Window

def _split(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def target_options(fn: Callable) -> Callable:
    fn = click.option("--lock-timeout", type=float, default=DEFAULT_LOCK_TIMEOUT, show_default=True,
                      metavar="SECONDS", help="How long to wait for a DuckDB file another process holds open.")(fn)
    fn = click.option("--pipelines-dir", type=click.Path(file_okay=False),
                      help="dlt working directory for pipeline state, locks and run logs (default: a folder "
                           "per warehouse under dlt's ~/.dlt/pipelines/crm-elt).")(fn)
    fn = click.option("--duckdb", "duckdb_path", type=click.Path(dir_okay=False), default=None,
                      help="DuckDB file to load (default crm.duckdb).")(fn)
    fn = click.option("--destination", default=None,
                      help="Any dlt destination name (postgres, bigquery, snowflake, motherduck...), "
                           "configured in .dlt/ or env vars. Default: duckdb.")(fn)
    return fn


def run_options(fn: Callable) -> Callable:
    """Options of the loading commands (run, backfill)."""
    fn = click.option("--publish", type=click.Path(dir_okay=False), default=None,
                      help="DuckDB only: after each successful run, atomically replace this file with a "
                           "read-only copy of the warehouse for analysts to open.")(fn)
    fn = click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
                      help="json: one JSON object per line for summaries (stdout) and errors (stderr).")(fn)
    fn = click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")(fn)
    fn = click.option("--account", default=None,
                      help="Use [sources.<source>.ACCOUNT] settings, dataset and state.")(fn)
    return target_options(fn)


def make_target(reporter: Reporter | None = None, *, destination: str | None, duckdb_path: str | None,
                pipelines_dir: str | None, lock_timeout: float, publish: str | None = None) -> Target:
    reporter = reporter or Reporter()
    if publish and destination not in (None, "", "duckdb"):
        raise click.UsageError("--publish copies a DuckDB file; it does not apply to --destination " + destination)
    shown = not reporter.quiet and reporter.log_format == "text"
    progress = ("live" if sys.stderr.isatty() else "lines") if shown else "off"
    return Target(destination, duckdb_path, pipelines_dir, lock_timeout=lock_timeout, publish=publish,
                  progress=progress, on_wait=reporter.notice)


def execute(sources: list[str], reporter: Reporter, **kw: Any) -> None:
    """Run each source (one failing does not keep the others from loading); one stderr line per error
    and the first failure's exit code. A first SIGINT/SIGTERM ends the running source at its next request
    (what was read is loaded) and starts no other: exit 130/143. A second one aborts at once."""
    exit_code = 0
    with graceful_stop():
        for source in sources:
            if stop.requested():
                break
            try:
                result = run_source(source, **kw)
            except TablesFailed as exc:
                reporter.result(exc.result)
                for table, reason in exc.failed.items():     # the other tables loaded
                    reporter.error(redact(reason), exc.exit_code, f"{source}.{table}")
                exit_code = exit_code or exc.exit_code
                continue
            except CrmEltError as exc:
                reporter.error(redact(exc), exc.exit_code, source)
                exit_code = exit_code or exc.exit_code
                continue
            except Exception as exc:            # a bug or an environment problem: still one line, no secret
                logging.getLogger("crm_elt").debug("unexpected error", exc_info=True)
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                reporter.error(redact(f"unexpected {type(exc).__name__}: {detail} (rerun with -v for details)"),
                               1, source)
                exit_code = exit_code or 1
                continue
            reporter.result(result)
            if stop.requested():
                complete = len(result.completed)
                reporter.error(f"interrupted: {complete} table{'s' * (complete != 1)} complete; the next run "
                               "continues", 128 + stop.requested(), source)
                exit_code = 128 + stop.requested()
            elif result.stopped:
                reporter.error(redact(result.stopped), result.stop_code, source)
                exit_code = exit_code or result.stop_code
    if exit_code:
        sys.exit(exit_code)


@contextmanager
def graceful_stop() -> Iterator[None]:
    """SIGINT/SIGTERM → ``sources._stop``: the run ends at its next API request and loads what it read.
    dlt's own handlers (normalize and load steps) are off meanwhile, so a signal there lets the load
    finish. A second signal restores the default action and re-raises it: the process stops at once."""
    import dlt

    def on_signal(signum: int, frame: Any) -> None:
        if stop.requested():
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        stop.request(signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with dlt.config.values({"runtime.intercept_signals": False}):
            yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop.clear()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log HTTP requests and retries (secrets redacted).")
def cli(verbose: bool) -> None:
    """Incremental ELT of Pipedrive and HotProfile into DuckDB or any dlt destination."""
    from pipelines.output import JsonLines

    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, JsonLines)]:     # an earlier --log-format json
        root.removeHandler(handler)
    logging.captureWarnings(False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("dlt").setLevel(logging.ERROR)
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")     # dlt reconfigures its logger per pipeline
    message = unreadable_config()
    if message:
        click.echo(f"crm-elt: {message}", err=True)
        sys.exit(ConfigError.exit_code)


def unreadable_config() -> str | None:
    """A malformed ``.dlt/*.toml`` as ``file:line:column: what`` (dlt would raise it from deep inside the
    first command that reads a setting, as a long traceback); None when the configuration reads."""
    import tomllib

    import dlt
    from dlt.common.configuration.providers.toml import TomlProviderReadException

    try:
        dlt.config.get("runtime.log_level")            # loads every configuration provider
    except TomlProviderReadException as exc:
        for path in exc.full_paths:
            try:
                with open(path, "rb") as fh:
                    tomllib.load(fh)
            except OSError:
                continue
            except tomllib.TOMLDecodeError as error:
                where = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
                reason = re.sub(r"\s*\(at line .*\)$", "", str(error))
                return f"{path}:{where.group(1)}:{where.group(2)}: {reason}" if where else f"{path}: {reason}"
        return f"cannot read {exc.file_name}: " + str(exc).splitlines()[-1]
    return None


@cli.command()
@click.argument("source", type=click.Choice([*SOURCES, "all"]), default="all")
@click.option("--tables", multiple=True, help="Comma-separated tables to load (default: all). See `crm-elt tables`.")
@click.option("--full-refresh", multiple=True, metavar="TABLE", help="Forget TABLE's cursor and rescan it.")
@click.option("--reconcile", is_flag=True,
              help="Scan every id now (not only when reconcile_every_hours is due) and mark rows that "
                   "vanished (deleted, purged, merged) as deleted.")
@run_options
def run(source: str, tables: tuple[str, ...], full_refresh: tuple[str, ...], reconcile: bool, account: str | None,
        quiet: bool, log_format: str, **target: Any) -> None:
    """Load new and changed rows since the last run (first run: since start_date)."""
    sources = list(SOURCES) if source == "all" else [source]
    if source == "all" and (tables or full_refresh):
        raise click.UsageError("--tables/--full-refresh need a single SOURCE")
    reporter = Reporter(quiet, log_format)
    execute(sources, reporter, target=make_target(reporter, **target), tables=_split(tables),
            account=account, full_refresh=_split(full_refresh), reconcile=reconcile)


@cli.command()
@click.argument("source", type=click.Choice(SOURCES))
@click.option("--from", "date_from", required=True, help="Window start, ISO date/datetime (UTC).")
@click.option("--to", "date_to", default=None, help="Window end (exclusive), ISO date/datetime; default now.")
@click.option("--tables", multiple=True, help="Comma-separated tables (default: all).")
@run_options
def backfill(source: str, date_from: str, date_to: str | None, tables: tuple[str, ...], account: str | None,
             quiet: bool, log_format: str, **target: Any) -> None:
    """Reload rows updated in a window; stored cursors are left where they are."""
    try:
        window = Window(parse_date(date_from, "--from"), parse_date(date_to, "--to"))
    except CrmEltError as exc:
        raise click.BadParameter(str(exc)) from None
    if window.end and window.end <= window.start:
        raise click.BadParameter("--to must be after --from")
    reporter = Reporter(quiet, log_format)
    execute([source], reporter, target=make_target(reporter, **target), tables=_split(tables),
            account=account, window=window)


@cli.command()
@click.argument("source", type=click.Choice([*SOURCES, "all"]), default="all")
@click.option("--tables", multiple=True, help="Comma-separated tables (default: all).")
@click.option("--account", default=None, help="Plan for [sources.<source>.ACCOUNT].")
@target_options
def plan(source: str, tables: tuple[str, ...], account: str | None, **target: Any) -> None:
    """Estimate the next run before it runs: requests, tokens and time per table at the plan's pace, and
    the runs or days a first load needs under max_tokens_per_run / max_tokens_per_day."""
    from pipelines.plan import plan_source, render

    sources = list(SOURCES) if source == "all" else [source]
    if source == "all" and tables:
        raise click.UsageError("--tables needs a single SOURCE")
    where, reporter = make_target(**target), Reporter()
    exit_code = 0
    for name in sources:
        try:
            click.echo("\n".join(render(plan_source(name, where, account=account, tables=_split(tables)))))
        except CrmEltError as exc:
            reporter.error(redact(exc), exc.exit_code, name)
            exit_code = exit_code or exc.exit_code
    if exit_code:
        sys.exit(exit_code)


def existing_warehouse(target: Target) -> Target:
    """``target``, or exit 2 when it is a DuckDB file that does not exist or a warehouse that cannot be
    reached (status and sql only read)."""
    from pipelines.runner import reach_warehouse

    if target.is_duckdb and not os.path.exists(target.duckdb_file):
        click.echo(f"crm-elt: no DuckDB file at {target.duckdb_file}: run `crm-elt run` first or pass --duckdb",
                   err=True)
        sys.exit(ConfigError.exit_code)
    if not target.is_duckdb:
        try:
            reach_warehouse(target)
        except CrmEltError as exc:
            click.echo(f"crm-elt: {redact(exc)}", err=True)
            sys.exit(ConfigError.exit_code)
    return target


@cli.command()
@click.option("--account", default=None, help="Show the datasets of [sources.<source>.ACCOUNT].")
@target_options
def status(account: str | None, **target: Any) -> None:
    """Every table of every source: cursor, last successful run, rows, freshness, last run's outcome."""
    from pipelines.status import HEADER, status_rows

    where = existing_warehouse(make_target(**target))
    click.echo(format_table(HEADER, status_rows(where, account)))


@cli.command()
@click.argument("query")
@target_options
def sql(query: str, **target: Any) -> None:
    """Run QUERY against the warehouse and print the result (DuckDB is opened read-only)."""
    from pipelines.sql import run_query

    where = existing_warehouse(make_target(**target))
    try:
        columns, rows = run_query(where, query)
    except CrmEltError as exc:
        click.echo(f"crm-elt: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        click.echo(f"crm-elt: query failed: {redact(str(exc).splitlines()[0] if str(exc) else exc)}", err=True)
        sys.exit(CrmEltError.exit_code)
    if columns:
        click.echo(format_table(columns, rows))


@cli.command()
@click.argument("source", type=click.Choice([*SOURCES, "all"]), default="all")
@click.option("--account", default=None, help="The dataset of [sources.<source>.ACCOUNT].")
@target_options
def views(source: str, account: str | None, **target: Any) -> None:
    """(Re)create the analytics views (stage history, funnel, win rates...) in the warehouse; every
    successful run does it too."""
    from pipelines.runner import dataset_name
    from pipelines.views import create_views

    where = existing_warehouse(make_target(**target))
    failed = 0
    for name in list(SOURCES) if source == "all" else [source]:
        for outcome in create_views(where.pipeline(name, account), name, warn=False, force=True):
            view = f"{dataset_name(name, account)}.{outcome.view}"
            if outcome.error:
                failed += 1
                click.echo(f"crm-elt: view {view} not created: {redact(outcome.error)}", err=True)
            elif outcome.missing:
                click.echo(f"{view}: skipped, needs {', '.join(outcome.missing)} (not in the dataset yet)")
            else:
                click.echo(f"{view}: created")
    if failed:
        sys.exit(CrmEltError.exit_code)


@cli.command()
def tables() -> None:
    """List every table: source, endpoint, primary key and load mode."""
    from pipelines.catalog import catalog_rows

    rows = catalog_rows()
    click.echo(format_table(rows[0], rows[1:]))


@cli.command()
@click.option("--duckdb", "duckdb_path", default="crm.duckdb", show_default=True, help="DuckDB file to load.")
@click.option("--deals", default=300, show_default=True, help="Sandbox size: Pipedrive deals.")
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
