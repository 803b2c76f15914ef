"""Run state belongs to the warehouse: local state, locks and run logs are kept per warehouse, so runs
into two warehouses never block or report each other, and a failed run elsewhere changes nothing."""
from __future__ import annotations

import os

from click.testing import CliRunner

from conftest import hold_lock_in_process, query
from destinations import state_dir
from pipelines.cli import cli
from pipelines.runner import Target


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_two_warehouses_run_side_by_side_and_keep_their_own_runs(pipedrive_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "machine-dlt"))     # the machine's dlt folder
    a, b = str(tmp_path / "a.duckdb"), str(tmp_path / "b.duckdb")
    assert state_dir(None, a) != state_dir(None, b) and state_dir(None, a) == Target("duckdb", a).pipelines_dir
    assert state_dir(None, a).startswith(str(tmp_path / "machine-dlt"))

    # a failed run into A (bad token) leaves a failed run of the same pipeline name on this machine
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "wrong-token-000000")
    assert run("run", "pipedrive", "--tables", "deals", "--duckdb", a).exit_code == 2
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", pipedrive_env.token)

    holder = hold_lock_in_process(state_dir(None, a))          # a run into A is going on
    try:
        assert run("run", "pipedrive", "--tables", "deals", "--duckdb", a).exit_code == 3
        into_b = run("run", "pipedrive", "--tables", "deals", "--duckdb", b, "--quiet")
        assert into_b.exit_code == 0, into_b.output
    finally:
        holder.kill()
        holder.wait()
    assert query(Target("duckdb", b), "SELECT count(*) FROM pipedrive.deals")[0][0] == len(pipedrive_env.expected("deals"))

    status_b = run("status", "--duckdb", b).output
    deals_b = next(line for line in status_b.splitlines() if line.startswith("pipedrive.deals "))
    assert deals_b.rstrip().endswith("ok") and "FAILED" not in status_b
    status_a = run("status", "--duckdb", a)
    assert status_a.exit_code == 2 or "FAILED" in status_a.output     # A has no file, or its failed run
    assert not os.path.exists(os.path.join(str(tmp_path / "machine-dlt"), "pipelines", "crm_elt_pipedrive"))


def test_a_worker_without_local_state_restores_it_from_the_warehouse(small_env, tmp_path, monkeypatch):
    """An ephemeral worker (a new container, a wiped disk): dlt's state in the warehouse brings back the
    cursors and per-deal queues, so the next run reads only what changed and stays exact."""
    import shutil

    from truth import assert_pipedrive_exact

    sb, _ = small_env
    monkeypatch.setenv("SOURCES__PIPEDRIVE__RECONCILE_EVERY_HOURS", "0")     # deletes show in the id scan
    path = str(tmp_path / "crm.duckdb")
    assert run("run", "pipedrive", "--duckdb", path, "--quiet").exit_code == 0
    shutil.rmtree(state_dir(None, path))
    sb.tick(60)
    sb.mutate(seed=9, updates=5, inserts=2, deletes=1)
    sb.server.clear_requests()
    again = run("run", "pipedrive", "--duckdb", path, "--quiet")
    assert again.exit_code == 0, again.output
    flows = len(sb.server.requests_to(r"^/v1/deals/\d+/flow$"))
    assert 0 < flows < len(sb.expected("deals")) / 4, f"{flows} flow calls: the state was not restored"
    assert_pipedrive_exact(sb, lambda sql: query(Target("duckdb", path), sql))


def test_status_of_an_unreachable_warehouse_exits_2_in_one_line(monkeypatch):
    from conftest import free_port

    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", f"postgresql://u:secret-pw@127.0.0.1:{free_port()}/db")
    result = run("status", "--destination", "postgres")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "postgres" in lines[0] and "secret-pw" not in lines[0], lines


def test_a_user_without_dlt_data_dir_keeps_state_in_their_home(small_env):
    """As root dlt keeps state machine-wide (/var/dlt); as a user in ~/.dlt. Either way crm-elt keeps it per
    warehouse inside that folder. Run as an unprivileged user (the tests run as root in CI)."""
    import pwd
    import shutil
    import subprocess
    import sys
    import tempfile

    if os.geteuid() != 0:
        user = pwd.getpwuid(os.geteuid()).pw_name            # already a user: run as ourselves
        wrap: list[str] = []
    else:
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
        wrap = ["runuser", "--preserve-environment", "-u", user, "--"]      # keeps HOME
    home = tempfile.mkdtemp(prefix="crm-elt-home-")
    code = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    opened = open_path_for_others(os.path.realpath(sys.executable), sys.prefix, sys.base_prefix, code, home)
    try:
        if wrap:
            shutil.chown(home, user)
        env = {key: value for key, value in os.environ.items() if key not in ("DLT_DATA_DIR", "XDG_DATA_HOME")}
        env["HOME"] = home
        warehouse = os.path.join(home, "crm.duckdb")
        done = subprocess.run([*wrap, sys.executable, "-c", "from pipelines.cli import main; main()", "run",
                               "pipedrive", "--tables", "deals", "--quiet", "--duckdb", warehouse],
                              env=env, cwd=home, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        states = os.listdir(os.path.join(home, ".dlt", "pipelines", "crm-elt"))
        assert len(states) == 1 and states[0].startswith("duckdb-crm.duckdb-"), states
    finally:
        for path, mode in opened:
            os.chmod(path, mode)
        shutil.rmtree(home, ignore_errors=True)


def open_path_for_others(*paths: str) -> list[tuple[str, int]]:
    """Let another user reach the interpreter, the code and the home folder (a CI's temp venv, a pyenv under
    /root: 0700): o+x (pass through) on each folder above them that lacks it; returns what to restore."""
    changed: list[tuple[str, int]] = []
    if os.geteuid() != 0:
        return changed
    for path in paths:
        folder = os.path.dirname(os.path.abspath(path))
        while folder != os.path.dirname(folder):
            mode = os.stat(folder).st_mode & 0o7777
            if not mode & 0o001 and (folder, mode) not in changed and folder not in dict(changed):
                os.chmod(folder, mode | 0o001)
                changed.append((folder, mode))
            folder = os.path.dirname(folder)
    return changed
