"""The command line, run as a user runs it: the installed ``agentgov`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.home import Home

HEAVY = ("mlflow", "prefect", "evidently", "great_expectations", "bentoml", "dvc", "pandas")

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("args", [["--help"], ["version"], ["init", "--help"], ["plugins", "list", "--help"]])
def test_help_and_version_import_no_heavy_library(args: list[str], agentgov_home: Home) -> None:
    probe = (
        "import sys\n"
        "from agentgov.cli.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in result.stdout, result.stdout


def test_version_lists_the_libraries_it_drives(run_cli: Run, agentgov_home: Home) -> None:
    data = json.loads(run_cli("version", "--json", check=True).stdout)
    assert data["components"]["mlflow"] == "3.17.2"
    assert data["components"]["pluggy"] == "1.7.0"
    assert data["agentgov"]


def test_init_creates_the_config_and_the_home_and_records_it(run_cli: Run, agentgov_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTGOV_HOME")
    result = run_cli("init", check=True)
    home = Path.cwd() / ".agentgov"
    assert Path("agentgov.toml").is_file()
    assert (home / "audit").is_dir() and (home / ".gitignore").read_text() == "*\n"
    assert f"Created the home folder {home}" in result.stdout
    records = json.loads(run_cli("audit", "show", "--json", check=True).stdout)
    assert [(r["action"], r["actor"]) for r in records] == [("home.init", "test-user")]

    Path("agentgov.toml").write_text(Path("agentgov.toml").read_text() + "\n# mine\n")
    again = run_cli("init", check=True)
    assert "Kept the existing" in again.stdout
    assert Path("agentgov.toml").read_text().endswith("# mine\n")
    assert len(json.loads(run_cli("audit", "show", "--json", check=True).stdout)) == 1


def test_config_show_says_where_each_value_came_from(run_cli: Run, agentgov_home: Home) -> None:
    Path("agentgov.toml").write_text('[plugins]\nblock = ["x"]\n')
    rows = json.loads(run_cli("config", "show", "--json", env={"PREFECT_API_URL": "http://127.0.0.1:4200/api"}, check=True).stdout)
    by_setting = {r["setting"]: r for r in rows}
    assert by_setting["home"]["source"] == "$AGENTGOV_HOME"
    assert by_setting["plugins.block"] == {"setting": "plugins.block", "value": "x", "source": "agentgov.toml, line 2"}
    assert by_setting["prefect.api_url"]["source"] == "$PREFECT_API_URL"
    table = run_cli("config", "show", check=True).stdout
    assert "agentgov.toml, line 2" in table and "Source" in table


def test_bad_config_is_one_line_with_exit_code_2_and_no_traceback(run_cli: Run, agentgov_home: Home) -> None:
    Path("agentgov.toml").write_text('[plugins]\nblock = "x"\n')
    result = run_cli("config", "show")
    assert result.returncode == 2
    assert result.stdout == ""
    expected = f"agentgov: error: {Path.cwd() / 'agentgov.toml'}, line 2: 'plugins.block' must be a list of strings, got 'x'\n"
    assert result.stderr == expected


def test_debug_shows_the_traceback(run_cli: Run, agentgov_home: Home) -> None:
    Path("agentgov.toml").write_text("[plugins\n")
    result = run_cli("--debug", "config", "show")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("agentgov: error:")


def test_an_unknown_command_is_a_usage_error(run_cli: Run, agentgov_home: Home) -> None:
    result = run_cli("promtoe")
    assert result.returncode == 2
    assert "No such command 'promtoe'" in result.stderr


def test_plugins_list_shows_builtins_and_the_installed_example_plugin(run_cli: Run, agentgov_home: Home) -> None:
    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "list", "--json", check=True).stdout)}
    assert plugins["log-events"]["source"] == "built-in"
    assert "notify-file" in plugins, "install the example plugin: pip install -e examples/agentgov-notify-file (see README)"
    example = plugins["notify-file"]
    assert (example["source"], example["distribution"], example["status"]) == ("entry point", "agentgov-notify-file", "loaded")
    assert example["hooks"] == ["agentgov_on_event"]
    table = run_cli("plugins", "list", check=True).stdout
    assert "agentgov-notify-file 0.1.0" in table


def test_a_blocked_plugin_is_listed_as_blocked(run_cli: Run, agentgov_home: Home) -> None:
    result = run_cli("plugins", "list", "--json", env={"AGENTGOV_PLUGINS_BLOCK": "notify-file"}, check=True)
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["notify-file"]["status"] == "blocked"
    assert plugins["notify-file"]["hooks"] == []


def test_broken_plugins_are_named_in_the_list_and_on_stderr(
    run_cli: Run, agentgov_home: Home, fake_distribution: Callable[..., Path]
) -> None:
    fake_distribution("acme-broken", {"acme_broken": "import does_not_exist\n"}, {"broken": "acme_broken"})
    fake_distribution(
        "acme-sloppy",
        {"acme_sloppy": "from agentgov.core import hookimpl\n@hookimpl\ndef agentgov_register_policies(register):\n    register(42)\n"},
        {"sloppy": "acme_sloppy"},
    )
    result = run_cli("plugins", "list", check=True)
    assert "agentgov: warning: plugin 'broken' (from acme-broken): failed to import acme_broken: ModuleNotFoundError" in result.stderr
    assert (
        "agentgov: warning: plugin 'sloppy' (from acme-sloppy), hook agentgov_register_policies: "
        "registered int 42, which is not a policy" in result.stderr
    )
    assert "Traceback" not in result.stderr
    listed = {p["name"]: p for p in json.loads(run_cli("plugins", "list", "--json", check=True).stdout)}
    assert listed["broken"]["status"] == "error"
    assert listed["broken"]["problems"][0].startswith("failed to import acme_broken: ModuleNotFoundError")
    assert listed["sloppy"]["problems"][0].startswith("agentgov_register_policies: registered int 42, which is not a policy")


def test_audit_verify_passes_then_names_the_first_tampered_record(run_cli: Run, agentgov_home: Home) -> None:
    log = agentgov_home.audit_log
    for i in range(3):
        log.append(actor="alice", action="stage.change", subject=f"router/{i + 1}", payload={"i": i})
    ok = run_cli("audit", "verify", check=True)
    assert "Audit log OK: 3 records" in ok.stdout

    lines = log.path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"alice"', '"mallory"')
    log.path.write_text("".join(lines))
    bad = run_cli("audit", "verify")
    assert bad.returncode == 1
    assert bad.stderr == f"agentgov: error: audit log {log.path}: record 2 (seq 2) was edited: its hash does not match its content\n"
    as_json = run_cli("audit", "verify", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["line"] == 2


def test_audit_show_filters_by_agent(run_cli: Run, agentgov_home: Home) -> None:
    log = agentgov_home.audit_log
    log.append(actor="alice", action="stage.change", subject="router/1")
    log.append(actor="bob", action="stage.change", subject="triage/1")
    records = json.loads(run_cli("audit", "show", "--agent", "triage", "--json", check=True).stdout)
    assert [r["actor"] for r in records] == ["bob"]
    table = run_cli("audit", "show", "--agent", "router", check=True).stdout
    assert "alice" in table and "bob" not in table
    assert "No audit records for nobody." in run_cli("audit", "show", "--agent", "nobody", check=True).stdout
