"""Shared fixtures: in-process API emulators, an isolated DuckDB target, query helpers."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

import duckdb
import pytest

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# dlt's machine-wide folder (~/.dlt, /var/dlt as root) is never touched: whatever it holds cannot matter
os.environ["DLT_DATA_DIR"] = tempfile.mkdtemp(prefix="crm-elt-tests-dlt-")

from pipelines.runner import Target, run_source  # noqa: E402
from sources.hotprofile import HotProfileSettings  # noqa: E402
from sources.pipedrive import PipedriveSettings  # noqa: E402

PD_TOKEN = "pd-test-token-0123456789abcdef"
HP_KEY = "hp-test-key-fedcba9876543210"


@pytest.fixture
def pipedrive_sb():
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=7, deals=300, token=PD_TOKEN, burst=10_000) as sb:
        yield sb


@pytest.fixture
def hotprofile_sb():
    from sandbox.hotprofile import HotProfileSandbox

    with HotProfileSandbox(seed=7, clients=2500, leads=300, business_cards=300, api_key=HP_KEY, rate=None) as sb:
        yield sb


@pytest.fixture
def target(tmp_path) -> Target:
    """An isolated DuckDB warehouse; after the test it must hold no dlt variant column (``*__v_*``)."""
    target = Target("duckdb", str(tmp_path / "crm.duckdb"), str(tmp_path / "pipelines"))
    yield target
    if os.path.exists(target.duckdb_path):
        variants = query(target, "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                                 "WHERE column_name LIKE '%\\_\\_v\\_%' ESCAPE '\\'")
        assert variants == [], f"dlt variant columns: {variants}"


def openapi(path: str) -> dict:
    """A YAML API description from ``shared/reference``, parsed with libyaml when PyYAML has it (7x faster)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(reference(path).read_text(), Loader=loader)


def reference(path: str):
    """A file of the APIs' own descriptions in ``shared/reference`` beside the checkout (CI lays a copy there)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent.parent
    for root in (here.parent / "shared" / "reference", Path("/work/shared/reference")):
        if (root / path).exists():
            return root / path
    raise FileNotFoundError(f"shared/reference/{path} not found beside {here}")


def pd_settings(sb, **kw) -> PipedriveSettings:
    return PipedriveSettings(sb.base_url, PD_TOKEN, **{"rate_limit_burst": 10_000, **kw})


def hp_settings(sb, **kw) -> HotProfileSettings:
    return HotProfileSettings(sb.url_instance, HP_KEY, **kw)


class FakeClock:
    """An injected clock: ``sleep`` advances it at once (waits, backoffs and pauses cost no time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def no_sleep_pipedrive_client(sb):
    from sources._http import pipedrive_client

    clock = FakeClock()
    return pipedrive_client(sb.base_url, PD_TOKEN, burst=10_000, clock=clock, sleep=clock.sleep)


def no_sleep_hotprofile_client(sb):
    from sources._http import hotprofile_client

    clock = FakeClock()
    return hotprofile_client(sb.url_instance, HP_KEY, calls=10_000, clock=clock, sleep=clock.sleep)


def run_pipedrive(sb, target: Target, **kw):
    return run_source("pipedrive", target, settings=kw.pop("settings", None) or pd_settings(sb), **kw)


def run_hotprofile(sb, target: Target, **kw):
    return run_source("hotprofile", target, settings=kw.pop("settings", None) or hp_settings(sb), **kw)


def query(target: Target, sql: str) -> list[tuple]:
    with duckdb.connect(target.duckdb_path, read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def pipedrive_env(monkeypatch, pipedrive_sb):
    """CLI configuration (env vars) pointing Pipedrive at its emulator."""
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", pipedrive_sb.base_url)
    monkeypatch.setenv("SOURCES__PIPEDRIVE__RATE_LIMIT_BURST", "10000")
    for key in ("COMPANY_DOMAIN", "START_DATE"):
        monkeypatch.setenv(f"SOURCES__PIPEDRIVE__{key}", "")
    return pipedrive_sb


@pytest.fixture
def hotprofile_env(monkeypatch, hotprofile_sb):
    """CLI configuration (env vars) pointing HotProfile at its emulator."""
    monkeypatch.setenv("SOURCES__HOTPROFILE__API_KEY", HP_KEY)
    monkeypatch.setenv("SOURCES__HOTPROFILE__URL_INSTANCE", hotprofile_sb.url_instance)
    monkeypatch.setenv("SOURCES__HOTPROFILE__START_DATE", "")
    return hotprofile_sb


@pytest.fixture
def small_env(monkeypatch):
    """Small emulators of both APIs (80 deals, 30 clients) and the CLI configuration (env vars) for them:
    for tests of the command line and of whole runs, where the data size does not matter."""
    from sandbox.hotprofile import HotProfileSandbox
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=5, deals=80, token=PD_TOKEN, burst=10_000) as pd, \
            HotProfileSandbox(seed=5, clients=30, leads=20, business_cards=10, api_key=HP_KEY, rate=None) as hp:
        for key, value in {"SOURCES__PIPEDRIVE__API_TOKEN": PD_TOKEN, "SOURCES__PIPEDRIVE__BASE_URL": pd.base_url,
                           "SOURCES__PIPEDRIVE__RATE_LIMIT_BURST": "10000", "SOURCES__HOTPROFILE__API_KEY": HP_KEY,
                           "SOURCES__HOTPROFILE__URL_INSTANCE": hp.url_instance}.items():
            monkeypatch.setenv(key, value)
        for key in ("SOURCES__PIPEDRIVE__COMPANY_DOMAIN", "SOURCES__PIPEDRIVE__START_DATE",
                    "SOURCES__HOTPROFILE__START_DATE"):
            monkeypatch.delenv(key, raising=False)
        yield pd, hp


def hold_lock_in_process(path: str) -> subprocess.Popen:
    """A process that takes the pipeline lock the way a run does, then sleeps until killed."""
    code = ("import sys, time; from pipelines.lock import pipeline_lock\n"
            "with pipeline_lock(sys.argv[1], 'crm_elt_pipedrive'):\n"
            "    print('locked', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def hold_duckdb(path: str, seconds: float, read_only: bool = True):
    """Another *process* holding ``path`` open (as an analyst's session would); returns once it is open."""
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == '1'); "
            "print('open', flush=True); time.sleep(float(sys.argv[3]))")
    holder = subprocess.Popen([sys.executable, "-c", code, path, "1" if read_only else "0", str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "open"
    return holder


# --- a throwaway PostgreSQL cluster (tests that need one skip only when the server binaries are absent) ---
PG_BIN = "/usr/local/bin"
requires_postgres = pytest.mark.skipif(not os.path.exists(f"{PG_BIN}/initdb"),
                                       reason=f"no PostgreSQL server binaries in {PG_BIN}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(*cmd: str) -> list[str]:
    """Server binaries refuse to run as root: run them as the `postgres` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


@pytest.fixture(scope="session")
def postgres_url():
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    root = tempfile.mkdtemp(prefix="crm-elt-pg-")
    data = os.path.join(root, "data")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    subprocess.run(as_postgres(f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres"),
                   check=True, capture_output=True)
    port = free_port()
    subprocess.run(as_postgres(f"{PG_BIN}/pg_ctl", "-D", data, "-o", f"-h 127.0.0.1 -p {port} -k {root}",
                               "-l", os.path.join(root, "log"), "-w", "start"), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres:unused@127.0.0.1:{port}/postgres"     # trust auth; dlt insists on a password
    finally:
        subprocess.run(as_postgres(f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def pg_rows(url: str, sql: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(url) as con, con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture
def postgres_db(postgres_url):
    """A fresh, empty database in the session's cluster (tests never see each other's datasets)."""
    import uuid

    import psycopg2

    name = f"t_{uuid.uuid4().hex[:12]}"
    con = psycopg2.connect(postgres_url)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    con.close()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"
