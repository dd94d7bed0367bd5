"""`riskdesk chat` in a real pseudo-terminal at 80 and 120 columns: no amount, id or date is split across
lines, the help keeps its literal "[reason]", a command typed without its slash gets a hint, and a policy
answer's clauses are printed once. Piped (not a terminal), the chat prints plain text, nothing cut."""
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from console.chat_render import wrap
from tools.ledger import SAMPLE_LEDGER

ROOT = Path(__file__).resolve().parents[1]
D = "2026-11-23"
QUESTIONS = {
    "zh": ["给C1002申请4300元临时额度，买电动车送外卖", "C1001的可用额度是多少？", "逾期还清后多久不再展示？",
           "C1003申请8000元临时额度，买笔记本电脑工作用"],
    "en": ["C1002 temp quota 4300 for an e-bike to deliver food", "What's C1001's available credit?",
           "C1003 temp quota 8000 for a laptop for work"],
}
# what must stay on one line
TOKENS = re.compile(r"[¥￥]\d[\d,]*(?:\.\d+)?|\d{4}-\d{2}-\d{2}|\[[A-Z][A-Z0-9-]+\]|\b[A-Z]\d{4}\b|\bA-[0-9A-F]{6,}\b")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def env(lang: str) -> dict:
    e = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "RISKDESK_LANG": lang}
    for k in ("COLUMNS", "LINES", "NO_COLOR"):
        e.pop(k, None)
    return e


def run_in_pty(lines: list[str], columns: int, lang: str) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "console", "chat", "--ledger", str(SAMPLE_LEDGER), "--as-of", D,
                             "--lang", lang], stdin=slave, stdout=slave, stderr=slave, env=env(lang), cwd=ROOT,
                            close_fds=True)
    os.close(slave)
    out = b""
    pending = [(line + "\n").encode() for line in lines] + [b"/quit\n"]
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif pending and out.rstrip().endswith(b">"):  # the prompt: send the next line
                os.write(master, pending.pop(0))
            elif proc.poll() is not None:
                break
    finally:
        proc.kill() if proc.poll() is None else None
        proc.wait(10)
        os.close(master)
    return ANSI.sub("", out.decode("utf-8", "replace"))


def expected_tokens(question: str) -> set[str]:
    """The tokens of the desk's own reply to `question` (JSON, one shot)."""
    from typer.testing import CliRunner

    from console.cli import app
    r = CliRunner().invoke(app, ["ask", question, "--json", "--ledger", str(SAMPLE_LEDGER), "--as-of", D])
    assert r.exit_code == 0, r.output
    return set(TOKENS.findall(json.loads(r.stdout)["answer"]))


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_amount_id_or_date_is_split(columns, lang):
    screen = run_in_pty(QUESTIONS[lang] + ["help", "/help"], columns, lang)
    lines = screen.split("\n")
    assert max(len(line) for line in lines) > 40  # it did print
    for q in QUESTIONS[lang]:
        tokens = expected_tokens(q)
        assert tokens, q
        for tok in tokens:
            assert any(tok in line for line in lines), f"{tok!r} is split across lines at {columns} columns"
    assert "[reason]" in screen or "[理由]" in screen          # the help's literal brackets survive
    assert "/help" in screen and ("Did you mean /help" in screen or "是想输入 /help" in screen)


def test_policy_answer_clauses_are_printed_once():
    screen = run_in_pty(["How long until a repaid overdue record is no longer shown?"], 120, "en")
    body = screen.split("How long until", 1)[1]
    quoted = [m for m in re.findall(r"\[(PBOC-[A-Z0-9-]+)\] [^\n]*: ", body)]
    assert quoted and len(quoted) == len(set(quoted)), quoted


def test_piped_output_is_plain_text():
    r = subprocess.run([sys.executable, "-m", "console", "chat", "--ledger", str(SAMPLE_LEDGER), "--as-of", D,
                        "--lang", "en"], input="C1002 temp quota 4300 for an e-bike to deliver food\n/quit\n",
                       capture_output=True, text=True, env=env("en"), cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "\x1b[" not in r.stdout and "│" not in r.stdout and "━" not in r.stdout  # no table, no colour
    reply = next(line for line in r.stdout.splitlines() if "Approved under TQ5" in line)
    assert "¥4,300" in reply and "2026-12-22" in reply and len(reply) > 80   # one line, not cut to 80 columns


def test_wrap_never_breaks_inside_a_token():
    text = "已批准（TQ5）：为客户C1002发放临时额度¥4,300.00（用途：工作工具），有效期2026-11-23至2026-12-22（含当日）[LENDER-TQ-TQ5]。"
    for width in range(10, 60):
        lines = wrap(text, width)
        joined = "\n".join(lines)
        for tok in ("¥4,300.00", "2026-11-23", "2026-12-22", "[LENDER-TQ-TQ5]", "C1002"):
            assert tok in joined, (width, lines)
        assert "".join(lines) == text
