"""Recorded LLM traffic for the tests: a vcr.VCR configured for OpenAI-compatible endpoints.

Cassettes live in tests/cassettes/ and replay with record_mode "none" (the default), so the
tests never need a model server. Requests match on method, path and the JSON body: any change to
a prompt, schema or sampling parameter is a cassette miss, which raises vcr's
CannotOverwriteExistingCassetteException and fails the test until the cassettes are re-recorded
(scripts/record-cassettes sets RISKDESK_RECORD_MODE=all against a local llama.cpp server).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import vcr
import yaml

from agents.llm import LLMSettings

CASSETTE_DIR = Path(__file__).parent / "cassettes"
RECORD_BASE_URL = os.environ.get("RISKDESK_RECORD_BASE_URL", "http://127.0.0.1:8089/v1")
RECORD_MODEL = "smollm2-135m-instruct"


def record_mode() -> str:
    return os.environ.get("RISKDESK_RECORD_MODE", "none")


def llm_vcr() -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode=record_mode(),
        match_on=("method", "path", "body"),
        filter_headers=["authorization", "openai-organization", "openai-project", "cookie", "set-cookie"],
        decode_compressed_response=True,
    )


def recorded_settings(**overrides: Any) -> LLMSettings:
    """Settings of the recording server. Replays use the same values; max_retries only affects the
    client (not the request body), so replays use 0 to fail fast on a cassette miss."""
    values: dict[str, Any] = dict(base_url=RECORD_BASE_URL, model=RECORD_MODEL, timeout=120.0,
                                  max_retries=0, structured="json_object")
    values.update(overrides)
    return LLMSettings(**values)


def cassette_requests(name: str) -> list[dict[str, Any]]:
    """The recorded request bodies of a cassette, parsed."""
    data = yaml.safe_load((CASSETTE_DIR / name).read_text(encoding="utf-8"))
    out = []
    for interaction in data["interactions"]:
        body = interaction["request"]["body"]
        out.append(json.loads(body) if body else {})
    return out


def cassette_raw_requests(name: str) -> str:
    """The cassette's request bodies as text, exactly as stored (for leak checks)."""
    data = yaml.safe_load((CASSETTE_DIR / name).read_text(encoding="utf-8"))
    return "\n".join(str(i["request"]["body"]) for i in data["interactions"])
