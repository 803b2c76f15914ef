"""The `crm-elt` command line: exit codes, one-line errors, quiet runs, no secrets in output."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import HP_KEY, PD_TOKEN, query
from pipelines.cli import cli

ENV_KEYS = ("API_TOKEN", "COMPANY_DOMAIN", "BASE_URL", "START_DATE")


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean configuration: only what each test sets (env vars take precedence over .dlt/ files)."""
    for key in ENV_KEYS:
        monkeypatch.setenv(f"SOURCES__PIPEDRIVE__{key}", "")
    monkeypatch.delenv("SOURCES__PIPEDRIVE__RATE_LIMIT_BURST", raising=False)
    for key in ("API_KEY", "URL_INSTANCE", "START_DATE"):
        monkeypatch.setenv(f"SOURCES__HOTPROFILE__{key}", "")
    return monkeypatch


def invoke(*args: str, tmp_path=None):
    extra = ["--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "p")] if tmp_path else []
    runner = CliRunner()
    return runner.invoke(cli, [*args, *extra], catch_exceptions=False)


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_missing_token_exits_2_naming_the_key(env, tmp_path):
    result = invoke("run", "pipedrive", tmp_path=tmp_path)
    assert result.exit_code == 2
    assert "sources.pipedrive.api_token" in one_line(result.output)
    assert "SOURCES__PIPEDRIVE__API_TOKEN" in result.output


def test_bad_company_domain_exits_2(env, tmp_path):
    env.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    env.setenv("SOURCES__PIPEDRIVE__COMPANY_DOMAIN", "https://acme.pipedrive.com/deals?x")
    result = invoke("run", "pipedrive", tmp_path=tmp_path)
    assert result.exit_code == 2
    assert "company_domain" in one_line(result.output)
    assert PD_TOKEN not in result.output


def test_bad_backfill_date_exits_2(env, tmp_path):
    result = invoke("backfill", "pipedrive", "--from", "31/12/2024", tmp_path=tmp_path)
    assert result.exit_code == 2
    assert "--from" in result.output and "ISO date" in result.output


def test_unknown_table_exits_2(env, pipedrive_sb, tmp_path):
    env.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    env.setenv("SOURCES__PIPEDRIVE__BASE_URL", pipedrive_sb.base_url)
    result = invoke("run", "pipedrive", "--tables", "dealz", tmp_path=tmp_path)
    assert result.exit_code == 2
    assert "dealz" in one_line(result.output)


def test_wrong_token_exits_2_with_401_message(env, pipedrive_sb, tmp_path):
    env.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "not-the-token-xyz")
    env.setenv("SOURCES__PIPEDRIVE__BASE_URL", pipedrive_sb.base_url)
    result = invoke("run", "pipedrive", tmp_path=tmp_path)
    assert result.exit_code == 2
    line = one_line(result.output)
    assert "401" in line and "api_token" in line
    assert "not-the-token-xyz" not in result.output


def test_run_both_sources_from_env_config(env, small_env, tmp_path):
    pipedrive_sb, hotprofile_sb = small_env
    result = invoke("-v", "run", tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    assert "pipedrive.deals" in result.output and "hotprofile.clients" in result.output
    assert PD_TOKEN not in result.output and HP_KEY not in result.output
    summary = {line.split()[0]: line for line in result.output.splitlines() if " requests=" in line}
    # Pipedrive charges tokens per request; HotProfile has calls only (no tokens= to mislead)
    assert "tokens=" in summary["pipedrive.deals"] and "tokens=" not in summary["hotprofile.clients"], summary
    from pipelines.runner import Target

    target = Target("duckdb", str(tmp_path / "crm.duckdb"))
    assert query(target, "SELECT count(*) FROM pipedrive.deals")[0][0] == len(pipedrive_sb.expected("deals"))
    assert query(target, "SELECT count(*) FROM hotprofile.clients")[0][0] == len(hotprofile_sb.expected("clients"))
    quiet = invoke("run", "--quiet", tmp_path=tmp_path)
    assert quiet.exit_code == 0 and quiet.output == ""


def test_budget_exhausted_exits_4(env, pipedrive_sb, tmp_path):
    env.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    env.setenv("SOURCES__PIPEDRIVE__BASE_URL", pipedrive_sb.base_url)
    env.setenv("SOURCES__PIPEDRIVE__RATE_LIMIT_BURST", "1000")
    pipedrive_sb.daily_budget = pipedrive_sb.tokens_spent + 10
    result = invoke("run", "pipedrive", tmp_path=tmp_path)
    assert result.exit_code == 4
    assert "budget" in result.output


def test_tables_lists_the_registry():
    result = invoke("tables")
    assert result.exit_code == 0
    assert "/api/v2/deals" in result.output and "get_entry_list_flow" in result.output


@pytest.mark.parametrize("command", ["run", "backfill", "demo", "tables", "sandbox"])
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_account_reads_its_own_section_and_loads_its_own_dataset(env, pipedrive_sb, tmp_path):
    env.setenv("SOURCES__PIPEDRIVE__EU__API_TOKEN", PD_TOKEN)
    env.setenv("SOURCES__PIPEDRIVE__EU__BASE_URL", pipedrive_sb.base_url)
    env.setenv("SOURCES__PIPEDRIVE__RATE_LIMIT_BURST", "1000")           # falls back to [sources.pipedrive]
    result = invoke("run", "pipedrive", "--account", "eu", "--tables", "deal_fields,deals", tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    assert "pipedrive_eu.deals" in result.output
    from pipelines.runner import Target

    target = Target("duckdb", str(tmp_path / "crm.duckdb"))
    assert query(target, "SELECT count(*) FROM pipedrive_eu.deals")[0][0] == len(pipedrive_sb.expected("deals"))
    plain = invoke("run", "pipedrive", "--tables", "deals", tmp_path=tmp_path)
    assert plain.exit_code == 2 and "sources.pipedrive.api_token" in plain.output
    typo = invoke("run", "pipedrive", "--account", "ue", "--tables", "deals", tmp_path=tmp_path)
    assert typo.exit_code == 2 and one_line(typo.output).endswith(
        "no account 'ue' for pipedrive: add a [sources.pipedrive.ue] section (configured: eu)")


def test_hotprofile_call_path_is_configurable(env, hotprofile_env, tmp_path):
    env.setenv("SOURCES__HOTPROFILE__CLIENTS_PATH", "/rest_api/v1/clients/get_entry_list")
    result = invoke("run", "hotprofile", "--tables", "clients", tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    paths = {r.path for r in hotprofile_env.server.requests}
    assert paths == {"/rest_api/v1/clients/get_entry_list"}


@pytest.mark.parametrize("key, value", [("SOURCES__PIPEDRIVE__RATE_LIMIT_BURST", "abc"),
                                        ("SOURCES__PIPEDRIVE__RATE_LIMIT_BURST", "0"),
                                        ("SOURCES__HOTPROFILE__LAG_MINUTES", "-5"),
                                        ("SOURCES__PIPEDRIVE__RECONCILE_EVERY_HOURS", "-1"),
                                        ("SOURCES__HOTPROFILE__RECONCILE_EVERY_HOURS", "daily")])
def test_bad_numbers_in_config_exit_2_naming_the_key(env, tmp_path, key, value):
    env.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    env.setenv("SOURCES__PIPEDRIVE__COMPANY_DOMAIN", "acme")
    env.setenv("SOURCES__HOTPROFILE__API_KEY", HP_KEY)
    env.setenv("SOURCES__HOTPROFILE__URL_INSTANCE", "example.hot-profile.com")
    env.setenv(key, value)
    source = "pipedrive" if "PIPEDRIVE" in key else "hotprofile"
    result = invoke("run", source, tmp_path=tmp_path)
    assert result.exit_code == 2
    assert key.lower().replace("__", ".") in one_line(result.output)


def test_unknown_destination_exits_2_in_one_line(env, pipedrive_env, tmp_path):
    result = invoke("run", "pipedrive", "--destination", "nosuchwarehouse", tmp_path=tmp_path)
    assert result.exit_code == 2
    assert "nosuchwarehouse" in one_line(result.output)


def test_an_unreachable_host_fails_fast_naming_it(env, tmp_path, monkeypatch):
    import time

    from conftest import free_port

    monkeypatch.setattr(time, "sleep", lambda seconds: None)         # the backoff between attempts
    env.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    env.setenv("SOURCES__PIPEDRIVE__BASE_URL", f"http://127.0.0.1:{free_port()}")     # nothing listens
    result = invoke("run", "pipedrive", "--tables", "deals", tmp_path=tmp_path)
    assert result.exit_code == 1
    line = one_line(result.output)
    assert "Pipedrive unreachable at 127.0.0.1:" in line and "3 attempts" in line and "base_url" in line


def test_a_duckdb_file_in_a_missing_folder_exits_2(env, tmp_path):
    env.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    env.setenv("SOURCES__PIPEDRIVE__COMPANY_DOMAIN", "acme")
    result = CliRunner().invoke(cli, ["run", "pipedrive", "--duckdb", str(tmp_path / "nowhere" / "crm.duckdb")])
    assert result.exit_code == 2
    assert one_line(result.output).endswith(f"the folder {tmp_path / 'nowhere'} does not exist")


def test_a_destination_without_its_driver_exits_2_naming_the_install(env, pipedrive_sb):
    try:
        import snowflake.connector  # noqa: F401
        pytest.fail("this test needs a destination whose driver is not installed: snowflake's is")
    except ImportError:
        pass
    env.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    env.setenv("SOURCES__PIPEDRIVE__BASE_URL", pipedrive_sb.base_url)
    env.setenv("DESTINATION__SNOWFLAKE__CREDENTIALS", "snowflake://loader:secret@account/warehouse")
    result = invoke("run", "pipedrive", "--destination", "snowflake", "--tables", "deals")
    assert result.exit_code == 2
    assert one_line(result.output).endswith('the destination\'s driver is not installed: pip install "dlt[snowflake]"')
    assert "secret" not in result.output


@pytest.mark.parametrize("command", [["status"], ["run", "pipedrive"]])
def test_a_malformed_toml_is_one_line_with_file_line_and_column(tmp_path, command):
    import shutil
    import subprocess
    import sys

    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text('[sources.pipedrive]\napi_token = "pd-unterminated\n')
    exe = shutil.which("crm-elt")
    base = [exe] if exe else [sys.executable, "-c", "from pipelines.cli import main; main()"]
    # a new process, as from a shell: dlt reads the configuration files once per process
    done = subprocess.run([*base, *command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert one_line(done.stdout + done.stderr) == "crm-elt: ./.dlt/secrets.toml:2:29: Illegal character '\\n'"
    assert "pd-unterminated" not in done.stdout + done.stderr
