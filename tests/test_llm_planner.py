"""The LLM planner on real recorded traffic (SmolLM2-135M-Instruct behind llama.cpp's
OpenAI-compatible server, see scripts/record-cassettes), plus settings, grounding and transport
failure without any cassette.

Replays use record_mode "none": a changed prompt, schema or sampling parameter no longer matches
the recorded body and the test fails until the cassettes are re-recorded.
"""
from __future__ import annotations

import datetime as dt
import json
import socket
from decimal import Decimal

import pytest
from vcr.errors import CannotOverwriteExistingCassetteException

import agents.planner_llm as planner_llm
from agents.llm import LLMClient, LLMSettings, LLMUnavailable, strict_schema
from agents.plan import Intent, Plan
from agents.planner_llm import LLMPlanner, check_grounding
from llm_cassettes import cassette_requests, llm_vcr, record_mode, recorded_settings

REPLAYING = record_mode() == "none"


def planner(**overrides) -> LLMPlanner:  # noqa: ANN003
    return LLMPlanner(LLMClient(recorded_settings(**overrides)))


def run(cassette: str, message: str, history=(), **overrides):  # noqa: ANN001, ANN003
    with llm_vcr().use_cassette(cassette) as cass:
        outcome = planner(**overrides).plan(message, history)
    if REPLAYING:
        assert cass.all_played, f"{cassette}: not every recorded request was replayed"
    return outcome


# -- settings -------------------------------------------------------------------------------

def test_settings_absent_means_no_llm():
    assert LLMSettings.from_env({}) is None
    assert LLMSettings.from_env({"RISKDESK_LLM_MODEL": "x"}) is None


def test_settings_from_env_with_defaults():
    s = LLMSettings.from_env({"RISKDESK_LLM_BASE_URL": "http://127.0.0.1:8089/v1", "RISKDESK_LLM_TIMEOUT": "5",
                              "RISKDESK_LLM_STRUCTURED": "tools"})
    assert s is not None
    assert (s.api_key, s.timeout, s.structured, s.max_retries) == ("not-needed", 5.0, "tools", 2)


def test_settings_from_toml_and_json_config_env_wins(tmp_path):
    toml = tmp_path / "riskdesk.toml"
    toml.write_text('[llm]\nbase_url = "http://127.0.0.1:8089/v1"\nmodel = "m1"\nmax_retries = 0\n')
    s = LLMSettings.from_env({"RISKDESK_CONFIG": str(toml), "RISKDESK_LLM_MODEL": "m2"})
    assert (s.base_url, s.model, s.max_retries, s.structured) == ("http://127.0.0.1:8089/v1", "m2", 0, "json_object")
    js = tmp_path / "riskdesk.json"
    js.write_text(json.dumps({"llm": {"base_url": "http://127.0.0.1:1/v1", "structured": "json_schema"}}))
    s = LLMSettings.from_env({"RISKDESK_CONFIG": str(js)})
    assert (s.base_url, s.structured, s.timeout) == ("http://127.0.0.1:1/v1", "json_schema", 30.0)


def test_settings_reject_unknown_structured_mode():
    with pytest.raises(ValueError):
        LLMSettings.from_env({"RISKDESK_LLM_BASE_URL": "http://127.0.0.1:1/v1", "RISKDESK_LLM_STRUCTURED": "xml"})


# -- grounding (no model) -------------------------------------------------------------------

def test_grounding_accepts_slots_the_operator_wrote():
    conv = "客户c1002申请临时额度四千，用于买电动车，2026年11月20日"
    plan = Plan(intent=Intent.temp_quota, customer_id="C1002", amount=Decimal("4000"), as_of=dt.date(2026, 11, 20))
    assert check_grounding(plan, conv) is None


@pytest.mark.parametrize("plan, reason", [
    (Plan(intent=Intent.limit_lookup, customer_id="C2001"), "ungrounded_customer_id:C2001"),
    (Plan(intent=Intent.temp_quota, customer_id="C1002", amount=Decimal("5000")), "ungrounded_amount:5000"),
    (Plan(intent=Intent.limit_lookup, customer_id="C1002", as_of=dt.date(2026, 1, 1)), "ungrounded_as_of:2026-01-01"),
])
def test_grounding_refuses_invented_slots(plan, reason):
    assert check_grounding(plan, "C1002 wants a temporary quota of 4k for an e-bike") == reason


def test_strict_schema_is_derived_from_the_plan_model():
    schema = strict_schema(Plan.model_json_schema())
    assert schema["required"] == sorted(Plan.model_fields)
    assert schema["additionalProperties"] is False
    assert '"default"' not in json.dumps(schema)


# -- transport failure (no cassette) --------------------------------------------------------

def _closed_loopback_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_refused_becomes_llm_unavailable_and_planner_falls_back():
    settings = LLMSettings(base_url=f"http://127.0.0.1:{_closed_loopback_port()}/v1", model="m",
                           timeout=2, max_retries=0)
    client = LLMClient(settings)
    with pytest.raises(LLMUnavailable):
        client.text([{"role": "user", "content": "hi"}])
    outcome = LLMPlanner(client).plan("What's the available credit for C1001?")
    assert outcome.plan is None
    assert outcome.fallback_reason.startswith("llm_unavailable: connection error")
    assert outcome.attempts == 1


def test_timeout_becomes_llm_unavailable():
    """A loopback listener that accepts but never answers: the SDK times out, we report it."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        settings = LLMSettings(base_url=f"http://127.0.0.1:{srv.getsockname()[1]}/v1", model="m",
                               timeout=0.3, max_retries=0)
        outcome = LLMPlanner(LLMClient(settings)).plan("C1001 额度多少")
        assert outcome.plan is None and outcome.fallback_reason == "llm_unavailable: timeout after 0.3s"
    finally:
        srv.close()


# -- recorded traffic: SmolLM2-135M-Instruct on llama.cpp's server -----------------------------
# What the model actually did is asserted as recorded; see the docstring of each test.

def checked(outcome, message: str):  # noqa: ANN001, ANN201
    """The recorded plan as the desk uses it: slot by slot against the rules' reading of the message, on the sample
    ledger (agents/plan_check.py)."""
    from agents.conversation import Conversation
    from agents.linking import CustomerLinker
    from agents.plan_check import check_plan
    from agents.planner_rules import RulesPlanner
    from tools.ledger import SAMPLE_LEDGER, Ledger

    rules = RulesPlanner(CustomerLinker(Ledger.from_file(SAMPLE_LEDGER)))
    today = dt.date(2026, 11, 23)
    res, reading = rules.resolve(message, Conversation(), today)
    return check_plan(outcome.plan, res, reading, linker=rules.reader.linker, today=today)


@pytest.mark.parametrize("cassette, message, language", [
    ("planner_policy_zh.yaml", "临时额度最长可以多久？", "zh"),
    ("planner_policy_en.yaml", "What is the cap on the annual interest rate?", "en"),
])
def test_recorded_wellformed_plan_is_one_call_and_a_policy_question_stays_one(cassette, message, language):
    """SmolLM2 answers a policy question with a schema-valid plan in one call (the route it picks is recorded as
    it is). Whatever it routes, a question that names no customer and no amount stays a policy question once the
    slots are checked, and its language is the one detected, not the model's guess."""
    outcome = run(cassette, message)
    assert outcome.fallback_reason is None and outcome.attempts == 1
    assert outcome.plan.customer_id is None
    assert json.loads(outcome.raw[0])["intent"] == outcome.plan.intent.value
    final = checked(outcome, message)
    assert final.plan.intent == Intent.policy_qa and final.plan.customer_id is None and final.plan.amount is None
    assert final.plan.language == language
    body = cassette_requests(cassette)[0]
    assert body["temperature"] == 0 and body["seed"] == 7
    assert body["response_format"] == {"type": "json_object", "schema": Plan.model_json_schema()}
    assert body["messages"][-1] == {"role": "user", "content": message}


def test_recorded_tool_route_dropping_the_written_id_gets_the_id_from_the_rules():
    """SmolLM2 routes a limit question to limit_lookup but leaves customer_id out. The plan is one call, no retry;
    the slot check fills the id the operator wrote (linked to the ledger) and records that the rules supplied it."""
    message = "Check the credit limit of customer C1001"
    outcome = run("planner_missing_id.yaml", message)
    assert outcome.plan is not None and outcome.attempts == 1 and len(cassette_requests("planner_missing_id.yaml")) == 1
    assert outcome.plan.intent == Intent.limit_lookup and outcome.plan.customer_id is None
    final = checked(outcome, message)
    assert (final.plan.intent, final.plan.customer_id) == (Intent.limit_lookup, "C1001")
    assert final.sources["customer_id"].source == "rules" and final.sources["intent"].source == "llm"


def test_recorded_off_topic_plan_routes_nowhere_without_a_customer():
    """Off-topic input: in this recording SmolLM2 returns well-formed JSON routing a poem request to limit_lookup with
    no customer. One call; once checked, nothing names a customer, so no tool can run: the turn is out of scope."""
    outcome = run("planner_invalid_json.yaml", "Write me a poem about cats")
    assert outcome.plan is not None and outcome.attempts == 1 and outcome.plan.customer_id is None
    final = checked(outcome, "Write me a poem about cats")
    assert final.plan.intent == Intent.out_of_scope and final.plan.customer_id is None


def test_recorded_invented_amount_never_reaches_the_tools():
    """With every key required (all_keys), SmolLM2 fills amount with 3000 copied from the few-shot example although
    the operator named no amount. The plan is kept (one call), the invented amount is not: the rules' reading has
    none, so the turn asks for it."""
    message = "请帮客户申请一笔临时额度"
    outcome = run("planner_invented_amount.yaml", message, all_keys=True)
    assert outcome.plan is not None and outcome.attempts == 1
    assert json.loads(outcome.raw[0])["amount"] == 3000
    final = checked(outcome, message)
    assert final.plan.amount is None and final.plan.customer_id is None
    assert final.sources["amount"].source == "rules" and final.sources["amount"].proposed == "3000"


def test_recorded_invented_date_never_reaches_the_tools():
    """The amount is written this time (3000元) but the model's plan carries slots the operator never wrote; none of
    them survives the check: the customer and the date come from the rules' reading (none written)."""
    message = "客户申请临时额度3000元，用于装修"
    outcome = run("planner_invented_date.yaml", message, all_keys=True)
    assert outcome.plan is not None and outcome.attempts == 1
    final = checked(outcome, message)
    assert final.plan.customer_id is None and final.plan.as_of is None
    assert final.plan.amount in (None, Decimal("3000"))


def test_recorded_tools_mode_forces_the_plan_function():
    """llama.cpp honours a forced tool_choice (grammar from the function's parameters schema)."""
    cassette = "planner_tools_mode.yaml"
    outcome = run(cassette, "临时额度最长可以多久？", structured="tools")
    body = cassette_requests(cassette)[0]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "plan"}}
    assert body["tools"][0]["function"]["parameters"] == Plan.model_json_schema()
    assert "response_format" not in body
    assert outcome.raw and json.loads(outcome.raw[0])["intent"] in {i.value for i in Intent}


def test_recorded_json_schema_mode_is_rejected_by_llama_cpp_server():
    """llama-cpp-python's server only knows response_format text/json_object; it answers a
    json_schema request with HTTP 500. That is LLMUnavailable, and the planner falls back."""
    outcome = run("planner_json_schema_mode.yaml", "临时额度最长可以多久？", structured="json_schema")
    assert outcome.plan is None and outcome.attempts == 1
    assert outcome.fallback_reason.startswith("llm_unavailable: http 500")
    assert "json_object" in outcome.fallback_reason


@pytest.mark.skipif(not REPLAYING, reason="only meaningful when replaying")
def test_a_changed_prompt_misses_the_cassette(monkeypatch):
    """Bodies must match byte for byte (as JSON): editing the prompt fails until re-recorded."""
    monkeypatch.setattr(planner_llm, "SYSTEM_PROMPT", planner_llm.SYSTEM_PROMPT + " Be brief.")
    with pytest.raises(CannotOverwriteExistingCassetteException):
        run("planner_policy_zh.yaml", "临时额度最长可以多久？")
