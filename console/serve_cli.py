"""`riskdesk serve`: the HTTP service and the operator web console on one port.

The service process owns the ledger, the Chroma client, the threads and the audit log. With `--workers N`
(default: one per core on a shared ledger, else 1) it stays the owner of the Chroma client, publishes a read-only knowledge-base replica and
hands one-shot turns to N turn processes (console/turn_processes.py) over the shared ledger, audit and
thread stores (SQLite files under $RISKDESK_HOME, or servers by URL); per-thread locks are held across
processes and the ledger's own transactions decide every grant once.

Keys: RISKDESK_API_KEYS="key1:alice:operator,key2:bob:supervisor" and/or RISKDESK_API_KEYS_FILE=keys.toml
(or --keys-file). With no keys configured, a loopback bind makes three throwaway dev keys (viewer,
operator, supervisor), prints them, and they die with the process; any other bind refuses to start.

Limits (console/limits_http.py): --max-body, --rate-per-key, --rate-per-address, --header-timeout,
--keep-alive and --max-connections, each also read from its RISKDESK_* environment variable.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Optional

import typer

from console.cli_base import DbOpt, LedgerOpt, app, err, fail

# The service (FastAPI, the agent) is imported when `serve` runs, so other commands start fast.
KEYS_FILE_ENV = "RISKDESK_API_KEYS_FILE"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dev_keys() -> dict:
    from console.api_keys import ApiKey
    return {f"dev-{role}-{secrets.token_urlsafe(12)}": ApiKey(name=f"dev-{role}", role=role)
            for role in ("viewer", "operator", "supervisor")}


def default_workers(ledger: Optional[Path]) -> int:
    """One turn process per core this process may run on (up to 8) when every process can share the ledger;
    else 1 (--ledger FILE and an in-memory ledger URL are one process's own copy). A turn with the rules
    planner is CPU-bound Python under one GIL: on one process a 2-core machine answers about half what it can.
    Also 1 with a Chroma server (RISKDESK_CHROMA_URL): turns in the service process search it live and see a
    re-ingest at once, where turn processes search the replica published when the service started."""
    from tools.ledger import default_url
    if ledger is not None or default_url() in ("sqlite://", "sqlite:///:memory:") or os.environ.get("RISKDESK_CHROMA_URL"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host", help="Bind address (default loopback only)."),
          port: int = typer.Option(8000, "--port", min=0, max=65535),
          ledger: Optional[Path] = LedgerOpt,
          db: Optional[str] = DbOpt,
          keys_file: Optional[Path] = typer.Option(None, "--keys-file", help=f"JSON or TOML key file (else ${KEYS_FILE_ENV})."),
          turn_workers: Optional[int] = typer.Option(None, "--turn-workers", min=0, max=64,
                                                     help="Threads running turns; 0 runs them on the event loop "
                                                          "(default 0 with the rules planner, 8 with an LLM)."),
          workers: Optional[int] = typer.Option(None, "--workers", min=1, max=64,
                                                help="Processes running turns (a turn with the rules planner is CPU-bound "
                                                     "Python: one per core). More than one needs a shared ledger (not "
                                                     "--ledger FILE). [default: one per core, up to 8, on a shared "
                                                     "ledger; 1 with --ledger FILE or a Chroma server]"),
          max_body: Optional[int] = typer.Option(None, "--max-body", envvar="RISKDESK_MAX_BODY_BYTES",
                                                 help="Largest request body in bytes; 413 beyond it [default: 65536]."),
          rate_per_key: Optional[str] = typer.Option(None, "--rate-per-key", envvar="RISKDESK_RATE_PER_KEY",
                                                     help="Requests per API key: N/period joined by ';', or 'off'; "
                                                          "429 beyond it [default: 100/second;3000/minute]."),
          rate_per_address: Optional[str] = typer.Option(None, "--rate-per-address", envvar="RISKDESK_RATE_PER_ADDRESS",
                                                         help="Requests per client address, any key or none, or "
                                                              "'off' [default: 200/second;6000/minute]."),
          header_timeout: Optional[float] = typer.Option(None, "--header-timeout", envvar="RISKDESK_HEADER_TIMEOUT",
                                                         help="Seconds a connection has to send its request "
                                                              "headers [default: 10]."),
          keep_alive: Optional[float] = typer.Option(None, "--keep-alive", envvar="RISKDESK_KEEP_ALIVE",
                                                     help="Seconds an idle keep-alive connection stays open "
                                                          "[default: 5]."),
          max_connections: Optional[int] = typer.Option(None, "--max-connections", envvar="RISKDESK_MAX_CONNECTIONS",
                                                        help="Open connections at most; beyond it the oldest one "
                                                             "still sending its headers is closed [default: 1000]."),
          log_level: str = typer.Option("info", "--log-level")) -> None:
    """The HTTP API (/v1, /openapi.json, /docs) and the web console (/) on one port."""
    from pydantic import ValidationError

    from console.limits_http import HttpLimits, guarded_protocol
    from console.service import KeyConfigError, create_app, keys_from_env, load_keys_file
    given = {"max_body_bytes": max_body, "rate_per_key": rate_per_key, "rate_per_address": rate_per_address,
             "header_timeout": header_timeout, "keep_alive": keep_alive, "max_connections": max_connections}
    flags = {"max_body_bytes": "--max-body"}
    try:
        limits = HttpLimits(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as e:
        fail("; ".join(f"{flags.get(x['loc'][0], '--' + str(x['loc'][0]).replace('_', '-'))}: "
                       f"{x['msg'].removeprefix('Value error, ')}" for x in e.errors()))
    limits, warning = limits.fit_descriptors()
    if warning:
        err.print(f"[yellow]{warning}[/]")
    try:
        keys = keys_from_env()
        if keys_file is not None:
            keys.update(load_keys_file(keys_file))
    except KeyConfigError as e:
        fail(str(e))
    if not keys:
        if not is_loopback(host):
            fail(f"no API keys configured: set RISKDESK_API_KEYS or {KEYS_FILE_ENV} (or --keys-file) before binding {host}")
        keys = dev_keys()
        err.print("[yellow]No API keys configured: made dev keys for this process only (loopback):[/]")
        for k, v in keys.items():
            err.print(f"  {v.role:<10} {k}")
    import uvicorn

    from console.operator import open_desk
    from console.turns import settle
    from tools.ledger import default_url
    if workers is None:
        workers = default_workers(ledger)
    if workers > 1 and ledger is not None:
        fail("--workers needs a ledger every worker shares: --ledger FILE loads an in-memory copy per process "
             "(use the default store under $RISKDESK_HOME, or point RISKDESK_LEDGER_URL at a shared database)")
    if workers > 1 and default_url() in ("sqlite://", "sqlite:///:memory:"):
        fail("--workers needs a ledger every worker shares; RISKDESK_LEDGER_URL is an in-memory database")
    err.print("opening the desk (ledger, knowledge base)…")
    desk = open_desk(ledger)  # creates and seeds the shared stores before any turn process starts
    replica = None
    if workers > 1:  # this process stays the Chroma store's only owner; turn processes search a replica
        from knowledge import default_kb
        from knowledge.replica import publish
        from tools.home import riskdesk_home
        replica = publish(default_kb(), riskdesk_home(create=True) / "kb-replica.npz")
    settle(desk)
    procs = f"{workers} turn processes; " if workers > 1 else ""
    err.print(f"riskdesk on http://{host}:{port}/  ({procs}API /v1, docs /docs, {len(keys)} key(s))")
    uvicorn.run(create_app(desk, keys, turn_workers=turn_workers, turn_processes=workers if workers > 1 else 0,
                           kb_replica=replica, limits=limits),
                host=host, port=port, log_level=log_level, workers=1, timeout_graceful_shutdown=5, ws="none",
                http=guarded_protocol(limits.header_timeout, limits.max_connections),
                timeout_keep_alive=limits.keep_alive)


keys_app = typer.Typer(help="API keys for `riskdesk serve`.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("new")
def keys_new(name: str = typer.Argument(..., help="The caller named in audit records (letters, digits, _.@-)."),
             role: str = typer.Argument(..., help="viewer, operator or supervisor."),
             file: Path = typer.Option(..., "--file", help="The TOML key file to add the key to (created if missing).")) -> None:
    """Make a new API key: print it once, and store only its SHA-256 digest in the key file."""
    from console.api_keys import KeyConfigError, _key_entry, hashed, load_keys_file
    key = f"rk-{secrets.token_urlsafe(24)}"
    try:
        _key_entry(key, name, role, where="the new key")
        existing = load_keys_file(file) if file.exists() else {}
    except KeyConfigError as e:
        fail(str(e))
    if file.suffix.lower() != ".toml":
        fail(f"{file}: `keys new` writes TOML key files (name it *.toml)")
    if any(v.name == name for v in existing.values()):
        fail(f"{file}: a key named {name!r} exists already")
    entry = f'\n[[keys]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{hashed(key).split(":", 1)[1]}"\n'
    with open(file, "a", encoding="utf-8") as f:
        f.write(entry)
    os.chmod(file, 0o600)
    err.print(f"added {name} ({role}) to {file}; the key is shown once:")
    typer.echo(key)
