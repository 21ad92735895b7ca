"""Settings files: a mistyped key is named with the keys allowed there, never silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from offerwise.cli import app
from offerwise.config import load_settings
from offerwise.errors import ConfigError


def test_a_mistyped_key_is_named_with_the_keys_allowed_there(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('margin_rat = 0.3\n[csv]\ndecimals = ","\n[segments]\ndormant_day = 30\n')
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    text = str(e.value)
    assert "margin_rat: unknown key (allowed here: margin_rate," in text
    assert "did you mean 'margin_rate'?" in text
    assert "csv.decimals: unknown key (allowed here: decimal, date_format); did you mean 'decimal'?" in text
    # a nested section used to drop unknown keys without a word
    assert "segments.dormant_day: unknown key (allowed here: new_tenure_days, dormant_days," in text
    assert "did you mean 'dormant_days'?" in text


def test_the_cli_exits_2_with_the_same_lines(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("segments:\n  dormant_day: 30\n")
    res = CliRunner().invoke(app, ["validate", "--data", str(tmp_path), "--config", str(cfg)])
    assert res.exit_code == 2
    assert "segments.dormant_day: unknown key" in res.output and "'dormant_days'" in res.output
