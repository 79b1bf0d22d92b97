"""The one settings object: defaults, then marketwatch.toml, then MARKETWATCH_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketwatch.config import Settings, configured, load_settings
from marketwatch.errors import ConfigError


def test_toml_then_environment_the_last_one_wins(tmp_path: Path) -> None:
    toml = tmp_path / "marketwatch.toml"
    toml.write_text('[marketwatch]\nes_url = "http://search.test:9200"\nnode_port = 9301\n', encoding="utf-8")
    settings = load_settings({"MARKETWATCH_NODE_PORT": "9302"}, toml)
    assert settings.es_url == "http://search.test:9200"
    assert settings.node_port == 9302
    assert settings.index_alias == Settings().index_alias
    assert configured({"MARKETWATCH_NODE_PORT": "9302"}, toml) == {"es_url": "http://search.test:9200",
                                                                    "node_port": "9302"}


def test_a_configured_default_still_counts_as_configured(tmp_path: Path) -> None:
    toml = tmp_path / "marketwatch.toml"
    toml.write_text(f'es_url = "{Settings().es_url}"\n', encoding="utf-8")
    assert "es_url" in configured({}, toml)
    assert "es_url" not in configured({}, tmp_path / "missing.toml")


@pytest.mark.parametrize(("text", "message"), [("es_url = ", "not valid TOML"), ("es_ulr = 'x'", "unknown settings")])
def test_bad_config_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    toml = tmp_path / "marketwatch.toml"
    toml.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings({}, toml)


def test_demo_uses_the_cluster_named_in_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """``demo`` starts the local node only when no cluster is configured; one named in marketwatch.toml is used as
    given (here an address nothing listens on, so the demo stops with the cluster's error, and no node is started)."""
    from leads import cli

    toml = tmp_path / "marketwatch.toml"
    toml.write_text('es_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    monkeypatch.setenv("MARKETWATCH_CONFIG", str(toml))

    def no_local_node(settings: Settings) -> None:
        raise AssertionError("demo started the local node although marketwatch.toml names a cluster")

    monkeypatch.setattr(cli, "_node", no_local_node)
    assert cli.main(["demo", "--port", "0"]) == 2
    assert "127.0.0.1:9" in capsys.readouterr().err
