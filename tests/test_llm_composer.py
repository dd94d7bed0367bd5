"""The LLM composer on real recorded traffic (SmolLM2-135M-Instruct on llama.cpp's server).

Asserts what matters regardless of the small model's prose: a text comes back from the recorded
call, and what was sent carried no unmasked ID number, phone or name.
"""
from __future__ import annotations

import socket

import pytest

from agents.composer_llm import LLMComposer
from agents.llm import LLMClient, LLMSettings
from llm_cassettes import cassette_raw_requests, cassette_requests, llm_vcr, record_mode, recorded_settings

REPLAYING = record_mode() == "none"
NAME, PHONE, ID_NUMBER = "张伟", "13900010007", "110101199002020011"

EVIDENCE = {
    "tool_results": [{
        "tool": "limit_lookup", "outcome": "ok", "customer_id": "C1001", "name": NAME, "phone": PHONE,
        "as_of": "2026-11-23", "base_limit": "1500", "used": "200", "available": "1300",
        "temp_quota": {"amount": "3000", "expires_on": "2026-11-30"}, "total_available": "4300",
    }],
    "clauses": [{"clause_id": "LENDER-TQ-TQ7", "doc_id": "LENDER-TQ", "title": "Temporary quota",
                 "text": "An unexpired temporary quota adds to the available credit until it expires."}],
}
TEMPLATES = {
    "zh": "客户C1001（截至2026-11-23）：基础额度¥1,500，已用¥200，可用¥1,300；临时额度¥3,000，有效期至2026-11-30；"
          "总可用额度¥4,300 [LENDER-TQ-TQ7]。",
    "en": "C1001 as of 2026-11-23: base limit ¥1,500, used ¥200, available ¥1,300; temporary quota ¥3,000 valid "
          "until 2026-11-30; total available ¥4,300 [LENDER-TQ-TQ7].",
}
MESSAGES = {
    "zh": f"客户{NAME}（C1001，手机{PHONE}，身份证{ID_NUMBER}）现在还能用多少额度？",
    "en": f"How much credit can {NAME} (C1001, phone {PHONE}, ID {ID_NUMBER}) still use?",
}


def compose(language: str):
    cassette = f"composer_{language}.yaml"
    composer = LLMComposer(LLMClient(recorded_settings()), names=[NAME])
    with llm_vcr().use_cassette(cassette) as cass:
        outcome = composer.compose(language, MESSAGES[language], EVIDENCE, TEMPLATES[language])
    if REPLAYING:
        assert cass.all_played
    return cassette, outcome


@pytest.mark.parametrize("language", ["zh", "en"])
def test_recorded_compose_returns_text_and_sent_no_personal_data(language):
    cassette, outcome = compose(language)
    assert outcome.error is None
    assert outcome.text and outcome.text == outcome.raw.strip()
    assert outcome.usage.completion_tokens > 0
    # what went over the wire: masked operator message and evidence, the template, the clause id
    sent = cassette_raw_requests(cassette)
    for secret in (NAME, PHONE, ID_NUMBER):
        assert secret not in sent
    body = cassette_requests(cassette)[0]
    user = body["messages"][-1]["content"]
    assert "张*" in user and "139****0007" in user and "110101********0011" in user
    assert "LENDER-TQ-TQ7" in user and TEMPLATES[language] in user
    assert body["temperature"] == 0 and body["stop"] == ["\n"] and "response_format" not in body


def test_composer_unavailable_endpoint_gives_no_text():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    composer = LLMComposer(LLMClient(LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", timeout=2, max_retries=0)))
    outcome = composer.compose("en", MESSAGES["en"], EVIDENCE, TEMPLATES["en"])
    assert outcome.text is None and outcome.error.startswith("llm_unavailable: connection error")
