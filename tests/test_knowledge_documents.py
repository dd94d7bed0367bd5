"""A lender's own documents in the knowledge base (riskdesk kb add / list / show / remove): every file type
written locally (tests/kb_files.py), clauses cut on the document's own structure, stable ids, effective dates,
supersession, all-or-nothing errors, and a second process's writes seen without a restart."""
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from knowledge import CorpusError, KnowledgeBase
from knowledge.library import Options, add, read_document
from knowledge.parsers import Block
from knowledge.splitting import effective_date, split
from tests import kb_files

D = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return kb_files.write_all(tmp_path_factory.mktemp("lender-docs"))


@pytest.fixture(scope="module")
def kb(tmp_path_factory, files):
    kb = KnowledgeBase.open(tmp_path_factory.mktemp("chroma-docs"))
    kb.ingest()
    outcomes, report = add(kb, [files[k] for k in ("docx", "pdf", "html", "md", "txt")])
    assert [o.error for o in outcomes] == [None] * 5
    assert report.added == sum(o.clauses for o in outcomes) > 10
    return kb


def top(kb, query, as_of=D, k=3):
    return [h.clause_id for h in kb.search(query, as_of, k=k)]


# ---------------------------------------------------------------- reading and splitting
def test_each_file_type_is_cut_on_its_own_structure(files):
    docx, _ = read_document(files["docx"])
    assert [c.clause_id for c in docx.clauses] == ["MORTGAGE-1", "MORTGAGE-2", "MORTGAGE-3"]
    assert "七成" in docx.clauses[1].text_zh and docx.clauses[0].effective_from == dt.date(2026, 2, 1)
    assert "商铺 | 五成" in docx.clauses[2].text_zh  # a table row stays with its section
    pdf, _ = read_document(files["pdf"])
    assert [c.clause_id for c in pdf.clauses] == ["VEHICLE-LOANS-1", "VEHICLE-LOANS-2", "VEHICLE-LOANS-3"]
    assert pdf.title == "Vehicle Loan Policy" and pdf.clauses[1].text_en.startswith("Article 2 Down payment")
    assert pdf.clauses[0].effective_from == dt.date(2026, 4, 1) and pdf.clauses[0].text_zh == ""
    html, _ = read_document(files["html"])
    assert [c.title for c in html.clauses] == ["Collections handbook Contact hours", "Collections handbook Third parties",
                                               "Collections handbook Records"]
    assert "Home | Policies" not in json.dumps([c.text_en for c in html.clauses])  # navigation dropped
    assert html.clauses[0].effective_from == dt.date(2026, 5, 1)  # <meta name="effective-from">
    md, notes = read_document(files["md"])
    assert [c.clause_id for c in md.clauses] == ["POST-LOAN-1", "POST-LOAN-2.1", "POST-LOAN-2.2"]
    assert any("no effective date" in n for n in notes)
    txt, _ = read_document(files["txt"])
    assert [c.clause_id for c in txt.clauses] == [f"SMALL-BUSINESS-{n}" for n in range(1, 6)]
    assert txt.clauses[2].title.startswith("第二章 授信 第三条") and txt.title == "小微信贷管理办法"
    en, _ = read_document(files["txt_en"])
    assert [c.clause_id for c in en.clauses] == ["OVERDRAFT-1", "OVERDRAFT-2"]


def test_same_file_same_ids_and_paragraph_fallback(files, tmp_path):
    a, _ = read_document(files["txt"])
    b, _ = read_document(files["txt"])
    assert a == b
    plain = tmp_path / "memo.txt"
    plain.write_text("First paragraph about fees.\nstill the first.\n\nSecond paragraph about limits.\n", encoding="utf-8")
    memo, _ = read_document(plain)
    assert [c.clause_id for c in memo.clauses] == ["MEMO-P1", "MEMO-P2"]
    assert memo.clauses[0].text_en == "First paragraph about fees.\nstill the first."


def test_markers():
    pieces = split([Block(x) for x in ["Part I General", "Article I Scope.", "Covers cards.", "Article II Fees.",
                                       "Article IV Limits."]])
    assert [(p.number, p.title) for p in pieces] == [("1", "Part I General Article I Scope."),
                                                    ("2", "Part I General Article II Fees."),
                                                    ("4", "Part I General Article IV Limits.")]
    assert [p.number for p in split([Block("（一）甲"), Block("（二）乙"), Block("（十一）丙")])] == ["1", "2", "11"]
    assert [p.number for p in split([Block("Section 1.1 A"), Block("Section 1.2 B")])] == ["1.1", "1.2"]


@pytest.mark.parametrize("text,day", [
    ("本办法自2026年1月1日起施行。", dt.date(2026, 1, 1)),
    ("本办法自二〇二六年三月十五日起施行", dt.date(2026, 3, 15)),
    ("This policy is effective from 1 January 2026.", dt.date(2026, 1, 1)),
    ("These rules take effect on March 2, 2027", dt.date(2027, 3, 2)),
    ("Effective as of 2026-07-01.", dt.date(2026, 7, 1)),
    ("2025年12月31日发布", None),
])
def test_effective_dates_from_text(text, day):
    assert effective_date(text) == day


# ---------------------------------------------------------------- in the store
def test_added_documents_are_found_with_citations(kb):
    assert top(kb, "抵押率最高多少", k=1) == ["MORTGAGE-2"]
    assert top(kb, "how much down payment for a car loan", k=1) == ["VEHICLE-LOANS-2"]
    assert "COLLECTIONS-S1" in top(kb, "what hours can collectors phone customers")
    assert top(kb, "单户授信总额上限", k=1) == ["SMALL-BUSINESS-3"]
    assert top(kb, "贷款资金用途抽查比例", k=1) == ["POST-LOAN-2.1"]
    # the shipped policy still answers its own questions
    assert top(kb, "临时额度最高多少", k=1)[0].startswith("LENDER-TQ")


def test_as_of_respects_effective_dates(kb):
    assert "MORTGAGE-2" not in top(kb, "抵押率最高多少", as_of=dt.date(2026, 1, 31), k=5)
    assert "MORTGAGE-2" in top(kb, "抵押率最高多少", as_of=dt.date(2026, 2, 1), k=5)


def test_readd_unchanged_is_a_no_op_and_changed_replaces(kb, files, tmp_path):
    _, again = add(kb, [files["txt"]])
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 5)
    changed = files["txt"]  # the same file, edited: one clause changed, one gone
    lines = kb_files.POLICY_ZH.replace("一千万元", "五百万元").splitlines()
    changed.write_text("\n".join(x for x in lines if not x.startswith("第四条")) + "\n", encoding="utf-8")
    before = {c.clause_id: c for c in kb.clauses() if c.doc_id == "MORTGAGE"}
    _, r = add(kb, [changed])
    assert (r.updated, r.deleted, r.unchanged) == (1, 1, 3)
    assert "五百万元" in kb.get("SMALL-BUSINESS-3").text_zh and kb.get("SMALL-BUSINESS-4") is None
    assert {c.clause_id: c for c in kb.clauses() if c.doc_id == "MORTGAGE"} == before  # others untouched
    files["txt"].write_text(kb_files.POLICY_ZH, encoding="utf-8")
    add(kb, [files["txt"]])  # back as it was for the other tests
    assert kb.get("SMALL-BUSINESS-4") is not None


def test_supersedes_ends_the_old_document(kb, tmp_path):
    new = tmp_path / "mortgage_2027.md"
    new.write_text("## 1 抵押率\n住房抵押贷款的抵押率不得超过评估价值的六成。\n## 2 评估\n由一家评估机构估值。\n",
                   encoding="utf-8")
    outcomes, _ = add(kb, [new], Options(supersedes="MORTGAGE", effective_from=dt.date(2027, 1, 1)))
    assert outcomes[0].error is None
    assert kb.get("MORTGAGE-2").effective_to == dt.date(2026, 12, 31)
    assert top(kb, "抵押率最高多少", as_of=dt.date(2026, 12, 31), k=1) == ["MORTGAGE-2"]
    assert top(kb, "抵押率最高多少", as_of=dt.date(2027, 1, 1), k=1) == ["MORTGAGE-2027-1"]
    assert kb.remove_documents(["MORTGAGE-2027"]) == 2


def test_bad_files_are_refused_and_change_nothing(kb, tmp_path, monkeypatch):
    enc = kb_files.write_pdf(tmp_path / "locked.pdf", password="s3cret")
    scan = kb_files.write_scanned_pdf(tmp_path / "scan.pdf")
    empty = tmp_path / "empty.md"
    empty.write_text("", encoding="utf-8")
    odd = tmp_path / "sheet.xlsx"
    odd.write_bytes(b"PK\x03\x04")
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"not a zip")
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.seek(200 * 2**20)
        f.write(b"x")
    good = tmp_path / "good.txt"
    good.write_text("Article 1 Good.\nArticle 2 Also good.\n", encoding="utf-8")
    n = len(kb)
    outcomes, report = add(kb, [enc, scan, empty, odd, broken, big])
    reasons = {o.path.name: o.error for o in outcomes}
    assert "encrypted" in reasons["locked.pdf"] and "no text layer" in reasons["scan.pdf"]
    assert "empty" in reasons["empty.md"] and "unknown file type" in reasons["sheet.xlsx"]
    assert "not a readable DOCX" in reasons["broken.docx"] and "over the limit" in reasons["big.txt"]
    assert report.added == 0 and len(kb) == n
    outcomes, report = add(kb, [enc, good])  # each file whole: the good one goes in, the bad one not
    assert [o.error is None for o in outcomes] == [False, True] and report.added == 2
    assert kb.remove_documents(["GOOD"]) == 2 and len(kb) == n


def test_cli_add_list_show_remove_and_errors(tmp_path, files):
    runner = CliRunner()
    store = str(tmp_path / "chroma")
    r = runner.invoke(app, ["kb", "add", str(files["html"]), "--path", store, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["files"][0]["doc_id"] == "COLLECTIONS"
    r = runner.invoke(app, ["kb", "list", "--path", store, "--json"])
    rows = {x["doc_id"]: x for x in json.loads(r.stdout)}
    assert rows["COLLECTIONS"]["origin"] == "doc" and rows["COLLECTIONS"]["clauses"] == 3 and "LENDER-TQ" in rows
    r = runner.invoke(app, ["kb", "show", "COLLECTIONS-S2", "--path", store, "--json"])
    assert json.loads(r.stdout)["text_en"].startswith("Collectors must not disclose")
    r = runner.invoke(app, ["kb", "add", str(tmp_path / "nope.xlsx"), "--path", store])
    assert r.exit_code == 1 and "unknown file type" in r.output
    r = runner.invoke(app, ["kb", "remove", "LENDER-TQ", "--path", store])
    assert r.exit_code == 2 and "policy corpus" in r.output
    r = runner.invoke(app, ["kb", "remove", "COLLECTIONS", "--path", store])
    assert r.exit_code == 0 and "3 clauses" in r.output
    r = runner.invoke(app, ["kb", "show", "COLLECTIONS-S2", "--path", store])
    assert r.exit_code == 2


def test_a_running_process_sees_another_process_add(tmp_path, files):
    store = tmp_path / "chroma"
    kb = KnowledgeBase.open(store)
    kb.ingest()
    assert kb.get("VEHICLE-LOANS-2") is None
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "console", "kb", "add", str(files["pdf"]), "--path", str(store)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert top(kb, "how much down payment for a car loan", k=1) == ["VEHICLE-LOANS-2"]  # no reopen, no restart
    done = subprocess.run([sys.executable, "-m", "console", "kb", "remove", "VEHICLE-LOANS", "--path", str(store)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "VEHICLE-LOANS-2" not in top(kb, "how much down payment for a car loan", k=5)
    assert kb.get("VEHICLE-LOANS-2") is None


@pytest.fixture()
def chroma_server(tmp_path):
    """A Chroma server on loopback (the `chroma` command of the chromadb wheel), stopped after the test."""
    import shutil
    import socket
    import time
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        pytest.skip("the chroma command is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the chroma server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_server_path_adds_and_a_second_client_sees_it(chroma_server, files, monkeypatch):
    import time
    from knowledge import freshness
    monkeypatch.setattr(freshness, "SERVER_CHECK_SECONDS", 0.0)
    writer = KnowledgeBase.open(url=chroma_server)
    writer.ingest()
    reader = KnowledgeBase.open(url=chroma_server)  # another client of the same server (a running service)
    outcomes, report = add(writer, [files["docx"]])
    assert outcomes[0].error is None and report.added == 3
    time.sleep(0.01)
    assert top(reader, "抵押率最高多少", k=1) == ["MORTGAGE-2"]
    assert writer.remove_documents(["MORTGAGE"]) == 3
    assert reader.get("MORTGAGE-2") is not None  # until its next search
    assert "MORTGAGE-2" not in top(reader, "抵押率最高多少", k=5) and reader.get("MORTGAGE-2") is None


def test_sidecar_and_options_set_metadata(tmp_path):
    f = tmp_path / "rules.txt"
    f.write_text("Article 1 Fees are shown before signing.\nArticle 2 This policy is effective from 1 May 2026.\n",
                 encoding="utf-8")
    (tmp_path / "rules.txt.meta.yaml").write_text("doc_id: RULES-2026\ntitle: Fee rules\nissuer: Compliance\n"
                                                  "effective_from: 2026-06-01\neffective_to: 2026-12-31\n", encoding="utf-8")
    doc, _ = read_document(f)
    assert doc.doc_id == "RULES-2026" and doc.title == "Fee rules"
    c = doc.clauses[0]
    assert (c.clause_id, c.issuer, c.effective_from, c.effective_to) == \
        ("RULES-2026-1", "Compliance", dt.date(2026, 6, 1), dt.date(2026, 12, 31))  # the sidecar beats the text
    doc, _ = read_document(f, Options(doc_id="FEES", effective_from=dt.date(2026, 7, 1)))
    assert doc.clauses[1].clause_id == "FEES-2" and doc.clauses[1].effective_from == dt.date(2026, 7, 1)
    (tmp_path / "rules.txt.meta.yaml").write_text("effective_from: 2026-13-01\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="effective_from must be YYYY-MM-DD"):
        read_document(f)


def test_a_directory_is_added_file_by_file(tmp_path):
    docs = kb_files.write_all(tmp_path / "d")
    (tmp_path / "d" / "notes.xlsx").write_bytes(b"x")  # not a document type: skipped inside a directory
    kb = KnowledgeBase.open(tmp_path / "chroma")
    outcomes, report = add(kb, [tmp_path / "d"])
    assert sorted(o.path.name for o in outcomes) == sorted(p.name for p in docs.values())
    assert all(o.error is None for o in outcomes) and report.added == sum(o.clauses for o in outcomes)
