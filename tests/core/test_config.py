from __future__ import annotations

from pathlib import Path

import pytest

from agentgov.core import ConfigError, Stage
from agentgov.core.config import DEFAULT_CONFIG_TEXT, load_config, mask_uri
from agentgov.core.home import Home


def test_defaults_put_everything_in_the_home(agentgov_home: Home) -> None:
    config = load_config()
    assert config.path is None
    assert config.home == agentgov_home.root
    assert config.sources["home"] == "$AGENTGOV_HOME"
    assert config.tracking_uri == f"sqlite:///{agentgov_home.root / 'mlflow.db'}"
    assert config.registry_uri == config.tracking_uri
    assert config.prefect_api_url is None
    assert config.user == "test-user"


def test_default_home_is_dot_agentgov_in_the_working_directory(agentgov_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTGOV_HOME")
    config = load_config()
    assert config.home == Path.cwd() / ".agentgov"
    assert config.sources["home"].startswith("default")


def test_the_generated_file_parses_and_changes_nothing(agentgov_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTGOV_HOME")
    Path("agentgov.toml").write_text(DEFAULT_CONFIG_TEXT)
    config = load_config()
    assert config.path == Path.cwd() / "agentgov.toml"
    assert config.home == Path.cwd() / ".agentgov"
    assert config.sources["home"] == "agentgov.toml, line 7"


def test_file_values_are_read_and_relative_to_the_file(agentgov_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTGOV_HOME")
    Path("agentgov.toml").write_text(
        '[home]\npath = "state"\n'
        '[mlflow]\ntracking_uri = "http://127.0.0.1:5000"\n'
        '[plugins]\nblock = ["notify-file"]\ntrace = true\n'
        '[stages.production]\nrequired = ["lineage-complete"]\n'
    )
    project = Path.cwd()
    (project / "agents/router").mkdir(parents=True)
    monkeypatch.chdir(project / "agents/router")  # found from a subfolder, as git finds .git
    config = load_config()
    assert config.home == project / "state"
    assert config.tracking_uri == "http://127.0.0.1:5000"
    assert config.registry_uri == "http://127.0.0.1:5000"
    assert config.plugins_block == ("notify-file",)
    assert config.trace_plugins is True
    assert config.stages == {Stage.PRODUCTION: {"required": ["lineage-complete"]}}
    assert config.sources["tracking_uri"] == "agentgov.toml, line 4"


def test_environment_overrides_the_file(agentgov_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("agentgov.toml").write_text('[mlflow]\ntracking_uri = "http://file:5000"\n[plugins]\nblock = ["a"]\n')
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow-env:5000")
    monkeypatch.setenv("AGENTGOV_PLUGINS_BLOCK", "b, c")
    monkeypatch.setenv("AGENTGOV_PLUGINS_ONLY", "d")
    monkeypatch.setenv("AGENTGOV_TRACE_PLUGINS", "yes")
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    config = load_config()
    assert config.tracking_uri == "http://mlflow-env:5000"
    assert config.sources["tracking_uri"] == "$MLFLOW_TRACKING_URI"
    assert config.plugins_block == ("b", "c")
    assert config.plugins_only == ("d",)
    assert config.trace_plugins is True
    assert config.prefect_api_url == "http://127.0.0.1:4200/api"
    monkeypatch.setenv("AGENTGOV_TRACKING_URI", "http://agentgov-env:5000")
    assert load_config().tracking_uri == "http://agentgov-env:5000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[home\npath = 1", r"agentgov.toml: invalid TOML: .*line 1"),
        ('[home]\npath = "x"\ncolour = "blue"\n', r"agentgov.toml, line 3: unknown setting 'home.colour'"),
        ("[plugins]\n\nblock = \"a\"\n", r"agentgov.toml, line 3: 'plugins.block' must be a list of strings"),
        ("[plugins]\ntrace = 1\n", r"agentgov.toml, line 2: 'plugins.trace' must be a bool"),
        ('[stages.staging]\nrequired = []\n', r"agentgov.toml, line 1: \[stages.staging\]: unknown stage 'staging'"),
        ('mlflow = "sqlite://"\n', r"agentgov.toml, line 1: 'mlflow' must be a table"),
    ],
)
def test_a_bad_file_names_the_file_the_line_and_the_field(agentgov_home: Home, text: str, message: str) -> None:
    Path("agentgov.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_a_bad_environment_value_names_the_variable(agentgov_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTGOV_TRACE_PLUGINS", "sometimes")
    with pytest.raises(ConfigError, match=r"\$AGENTGOV_TRACE_PLUGINS='sometimes'"):
        load_config()


def test_agentgov_config_points_at_a_file_elsewhere(agentgov_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[identity]\nuser = "carol"\n')
    monkeypatch.setenv("AGENTGOV_CONFIG", str(other))
    monkeypatch.delenv("AGENTGOV_USER")
    assert load_config().user == "carol"
    monkeypatch.setenv("AGENTGOV_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_config()


def test_shown_configuration_never_prints_a_password(agentgov_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTGOV_TRACKING_URI", "postgresql://agentgov:s3cret@db:5432/mlflow")
    shown = "\n".join(" ".join(row) for row in load_config().shown())
    assert "s3cret" not in shown
    assert "postgresql://agentgov:***@db:5432/mlflow" in shown


def test_mask_uri_leaves_uris_without_password_alone() -> None:
    assert mask_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert mask_uri("http://user@host") == "http://user@host"
