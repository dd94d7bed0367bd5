"""`riskdesk db`: the shared stores' schema, upgraded in place through Alembic (storage/migrate.py)."""
from __future__ import annotations

from typing import Optional

import typer

from console.cli_base import DbOpt, app, err, fail, out

db_app = typer.Typer(help="The database schema: upgrade in place, show the revision.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _urls() -> dict[str, str]:
    from storage import store_url
    return {store: store_url(store) for store in ("ledger", "audit")}


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def upgrade(db: Optional[str] = DbOpt) -> None:
    """Apply every pending migration to the ledger and the audit log (a store made by an earlier release is
    adopted in place). Safe to run while services run, and from several hosts at once."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.migrate import upgrade_all
    try:
        done = upgrade_all(_urls())
    except SQLAlchemyError as e:
        fail(f"could not upgrade the database: {type(e).__name__}: {e.__cause__ or e}".splitlines()[0])
    for store, (before, head) in done.items():
        state = "up to date" if before == head else f"{before or 'new'} → {head}"
        out.print(f"{store:<7} {state}  ({_shown(_urls()[store])})")


@db_app.command("current")
def current(db: Optional[str] = DbOpt) -> None:
    """The schema revision of each store, and this code's head."""
    from sqlalchemy import create_engine

    from storage.migrate import current as revision, head
    for store, url in _urls().items():
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                at = revision(conn, store)
        except Exception as e:  # noqa: BLE001 - the store is unreachable: say so, go on
            err.print(f"{store:<7} unreachable ({type(e).__name__})  ({_shown(url)})")
            continue
        finally:
            engine.dispose()
        out.print(f"{store:<7} {at or 'none'} (head {head(store)})  ({_shown(url)})")
