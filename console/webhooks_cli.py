"""`riskdesk webhooks`: decision events delivered to URLs (tools/webhooks.py), and `riskdesk events` to read them.

    riskdesk webhooks add https://hooks.example/riskdesk --events approval.requested,approval.approved
    riskdesk webhooks list
    riskdesk webhooks deliver            # one pass (the service runs the same dispatcher in the background)
    riskdesk webhooks deliver --forever
    riskdesk webhooks failed             # the dead-letter list
    riskdesk webhooks redeliver --all
"""
from __future__ import annotations

import json
import sys
import time
from typing import Optional

import typer
from rich.table import Table

from console.cli_base import JsonOpt, app, err, fail, open_ledger, out

webhooks_app = typer.Typer(help="Decision events delivered by signed webhooks (决策事件推送).", no_args_is_help=True,
                           pretty_exceptions_enable=False, add_completion=False)


@webhooks_app.command("add")
def add(url: str, events: Optional[str] = typer.Option(None, "--events", help="Comma-separated event types (default: "
                                                                               "every type the role may see)."),
        role: str = typer.Option("operator", "--role", help="Whose view it gets: viewer, operator or supervisor."),
        secret: Optional[str] = typer.Option(None, "--secret", help="The signing secret (default: a new random one)."),
        from_start: bool = typer.Option(False, "--from-start", help="Also deliver every event already stored."),
        json_out: bool = JsonOpt) -> None:
    """Register a URL for decision events; prints its signing secret once."""
    from tools.errors import ToolInputError
    from tools.webhooks import add_webhook
    wanted = [e.strip() for e in events.split(",") if e.strip()] if events else None
    try:
        hook, key = add_webhook(open_ledger(None), url, wanted, role, secret, from_start)
    except ToolInputError as e:
        fail(str(e))
    if json_out:
        sys.stdout.write(json.dumps({**hook.model_dump(), "secret": key}, ensure_ascii=False) + "\n")
        return
    out.print(f"{hook.webhook_id} → {hook.url} ({', '.join(hook.events)}; {hook.role})")
    out.print(f"signing secret (shown once) / 签名密钥（仅显示一次）: {key}")


@webhooks_app.command("list")
def list_(json_out: bool = JsonOpt) -> None:
    """Registered webhooks."""
    from tools.webhooks import list_webhooks
    hooks = list_webhooks(open_ledger(None))
    if json_out:
        sys.stdout.write(json.dumps([h.model_dump() for h in hooks], ensure_ascii=False) + "\n")
        return
    t = Table("webhook", "url", "events", "role", "cursor")
    for h in hooks:
        t.add_row(h.webhook_id, h.url, ", ".join(h.events), h.role, str(h.cursor))
    out.print(t)


@webhooks_app.command("remove")
def remove(webhook_id: str) -> None:
    """Stop delivering to a webhook (its pending deliveries are dropped)."""
    from tools.webhooks import remove_webhook
    if not remove_webhook(open_ledger(None), webhook_id):
        fail(f"no webhook with id {webhook_id!r} / 没有该 webhook")
    out.print(f"{webhook_id} removed / 已删除")


@webhooks_app.command("failed")
def failed(json_out: bool = JsonOpt) -> None:
    """The dead-letter list: deliveries that failed their last retry."""
    from tools.webhooks import deliveries
    dead = deliveries(open_ledger(None), "dead")
    if json_out:
        sys.stdout.write(json.dumps([d.model_dump() for d in dead], ensure_ascii=False) + "\n")
        return
    t = Table("webhook", "seq", "event id", "attempts", "last error", title="dead letters / 投递失败", title_justify="left")
    for d in dead:
        t.add_row(d.webhook_id, str(d.seq), d.event_id, str(d.attempts), d.last_error or "")
    out.print(t)


@webhooks_app.command("redeliver")
def redeliver_cmd(webhook_id: Optional[str] = typer.Option(None, "--webhook"), seq: Optional[int] = typer.Option(None, "--seq"),
                  all_: bool = typer.Option(False, "--all", help="Every dead delivery.")) -> None:
    """Send dead deliveries again (then `riskdesk webhooks deliver`, or the running service, sends them)."""
    from tools.webhooks import redeliver
    if not all_ and webhook_id is None and seq is None:
        fail("say which: --all, --webhook ID and/or --seq N / 请指定 --all、--webhook 或 --seq")
    n = redeliver(open_ledger(None), webhook_id, seq)
    out.print(f"{n} deliveries due again / {n} 条重新排队")


@webhooks_app.command("deliver")
def deliver(forever: bool = typer.Option(False, "--forever", help="Keep delivering until interrupted."),
            interval: float = typer.Option(1.0, "--interval", min=0.05),
            base: float = typer.Option(2.0, "--backoff", min=0.0, help="First retry delay in seconds (doubles)."),
            max_attempts: int = typer.Option(8, "--max-attempts", min=1)) -> None:
    """Enqueue new events and deliver the due ones: one pass, or --forever."""
    from tools.webhooks import Dispatcher
    d = Dispatcher(open_ledger(None), base=base, max_attempts=max_attempts, interval=interval)
    try:
        while True:
            ok, bad = d.run_once()
            if ok or bad or not forever:
                err.print(f"delivered {ok}, failed {bad} / 成功 {ok}，失败 {bad}")
            if not forever:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        d.client.close()


@app.command("events")
def events_cmd(after: int = typer.Option(0, "--after", min=0, help="Only events after this seq."),
               limit: int = typer.Option(50, "--limit", min=1, max=1000), json_out: bool = JsonOpt) -> None:
    """Decision events stored in the ledger's outbox, oldest first."""
    from tools.events import events_after
    evs = events_after(open_ledger(None), after, limit)
    if json_out:
        sys.stdout.write(json.dumps([e.model_dump(mode="json") for e in evs], ensure_ascii=False) + "\n")
        return
    t = Table("seq", "type", "customer", "day", "event id")
    for e in evs:
        t.add_row(str(e.seq), e.type, e.customer_id, str(e.occurred_on), e.event_id)
    out.print(t)
