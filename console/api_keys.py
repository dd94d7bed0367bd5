"""API keys: who a key stands for (a name for the audit record, a role), and where keys are configured.

A key maps to a name (the audit record's caller) and a role (viewer < operator < supervisor). Keys come
from `RISKDESK_API_KEYS` ("key:name:role,key2:name2:role2") and/or the JSON or TOML file named by
`RISKDESK_API_KEYS_FILE` (`{"keys": [{"key": "...", "name": "alice", "role": "operator"}]}`, or `[[keys]]`
tables in TOML). The service and the CLI check a presented key the same way (`key_holder`).
"""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, Field, ValidationError

from agents.contract import Role

KEYS_ENV, KEYS_FILE_ENV = "RISKDESK_API_KEYS", "RISKDESK_API_KEYS_FILE"


class ApiKey(BaseModel):
    """What one API key stands for."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,60}$", description="The caller named in audit records.")
    role: Role


class KeyConfigError(ValueError):
    """A malformed key list; the message says where."""


HASHED = "sha256:"  # a key given by its SHA-256 digest (hex) instead of the key itself


def _key_entry(key: Any, name: Any, role: Any, where: str) -> tuple[str, ApiKey]:
    if not isinstance(key, str) or not key or any(ch.isspace() for ch in key) or len(key) > 256:
        raise KeyConfigError(f"{where}: the key must be a non-empty string without spaces (at most 256 characters)")
    if key.startswith(HASHED) and not (len(key) == len(HASHED) + 64 and all(c in "0123456789abcdef" for c in key[len(HASHED):])):
        raise KeyConfigError(f"{where}: a hashed key is 'sha256:' and 64 lower-case hex digits")
    try:
        return key, ApiKey(name=name, role=role)
    except ValidationError as e:
        msg = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise KeyConfigError(f"{where}: {msg}") from None


def hashed(key: str) -> str:
    """How a key file stores a key without holding it: 'sha256:' + the hex digest."""
    return HASHED + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def parse_keys_env(value: str) -> dict[str, ApiKey]:
    """`key1:alice:operator,key2:bob:supervisor` (whitespace around entries is ignored)."""
    keys: dict[str, ApiKey] = {}
    for i, entry in enumerate(e.strip() for e in value.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3:
            raise KeyConfigError(f"{KEYS_ENV} entry {i + 1}: expected KEY:NAME:ROLE, got {len(parts)} field(s)")
        k, v = _key_entry(*parts, where=f"{KEYS_ENV} entry {i + 1} ({parts[1]})")
        keys[k] = v
    return keys


def load_keys_file(path: str | Path) -> dict[str, ApiKey]:
    """JSON (`{"keys": [{"key", "name", "role"}]}`) or TOML (`[[keys]]` tables), chosen by the suffix.
    An entry gives the key itself (`key`) or only its digest (`sha256`, hex; see `riskdesk keys new`)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise KeyConfigError(f"{p}: cannot read the key file ({e.strerror})") from None
    try:
        data = tomllib.loads(raw.decode()) if p.suffix.lower() == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise KeyConfigError(f"{p}: not valid {'TOML' if p.suffix.lower() == '.toml' else 'JSON'} ({e})") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise KeyConfigError(f"{p}: expected a top-level 'keys' list of {{key, name, role}} entries")
    keys: dict[str, ApiKey] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise KeyConfigError(f"{p}: keys[{i}] must be a table/object with key, name and role")
        if ("key" in e) == ("sha256" in e):
            raise KeyConfigError(f"{p}: keys[{i}] needs exactly one of 'key' or 'sha256'")
        key = e["key"] if "key" in e else (HASHED + e["sha256"] if isinstance(e["sha256"], str) else None)
        k, v = _key_entry(key, e.get("name"), e.get("role"), where=f"{p}: keys[{i}]")
        keys[k] = v
    return keys


def keys_from_env(environ: Mapping[str, str] | None = None) -> dict[str, ApiKey]:
    """The keys configured in the environment: the file first, then RISKDESK_API_KEYS (wins on a clash)."""
    env = os.environ if environ is None else environ
    keys: dict[str, ApiKey] = {}
    if path := env.get(KEYS_FILE_ENV):
        keys.update(load_keys_file(path))
    if value := env.get(KEYS_ENV):
        keys.update(parse_keys_env(value))
    return keys


def _normalise_keys(keys: Mapping[str, Any]) -> dict[str, ApiKey]:
    out: dict[str, ApiKey] = {}
    for k, v in keys.items():
        if isinstance(v, ApiKey):
            out[k] = v
        elif isinstance(v, Mapping):
            out.update([_key_entry(k, v.get("name"), v.get("role"), where=f"key {v.get('name')!r}")])
        else:
            name, role = v
            out.update([_key_entry(k, name, role, where=f"key {name!r}")])
    return out


def _digest(token: str) -> bytes:
    """The digest of a presented token (always hashed: a digest sent as a token matches nothing)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _stored_digest(configured: str) -> bytes:
    """The digest of a configured key: given (`sha256:...`) or computed."""
    return bytes.fromhex(configured[len(HASHED):]) if configured.startswith(HASHED) else _digest(configured)


def key_holder(token: str, keys: Mapping[str, ApiKey]) -> ApiKey | None:
    """Who a presented key is, against configured keys (key or digest -> ApiKey), as the service checks it:
    the CLI acts as this identity too (`riskdesk approvals approve --key KEY`)."""
    wanted = _digest(token)
    return next((who for k, who in keys.items() if _stored_digest(k) == wanted), None)
