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
