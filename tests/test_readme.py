"""The README's examples run: every `riskdesk …` line of its CLI block and its Python block."""
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
ROOT = Path(__file__).resolve().parent.parent


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


CLI_LINES = [line.split("  #")[0].strip() for block in blocks("bash") for line in block.splitlines()
             if line.startswith("riskdesk ") and "TRACE_ID" not in line and " chat" not in line and " serve" not in line]


@pytest.mark.parametrize("line", CLI_LINES)
def test_cli_examples_run(line, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, shlex.split(line)[1:])
    assert result.exit_code == 0, (line, result.output)


def test_python_example_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    [code] = [b for b in blocks("python") if "Desk.open" in b]
    exec(compile(code, "README.md", "exec"), {})


def test_chat_main_job_answers_and_quits(monkeypatch):
    monkeypatch.chdir(ROOT)
    script = "What's C1001's available credit?\n/pending\n/help\n/quit\n"
    result = CliRunner().invoke(app, ["chat", "--as-of", "2026-11-23", "--ledger", "tools/data/sample_ledger.json"], input=script)
    assert result.exit_code == 0, result.output
    assert "¥4,300" in result.output and "/approve" in result.output
