"""Alembic environment for riskdesk's two schemas (`ledger`, `audit`): storage.migrate runs it on a
connection it already holds (and has locked), with the schema's own version table."""
from alembic import context

from storage.schema import METADATA

config = context.config
store = config.attributes["store"]
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA[store], version_table=f"alembic_version_{store}",
                  render_as_batch=connection.dialect.name == "sqlite", transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
