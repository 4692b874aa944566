"""Lead search indexes: trigram indexes of fingerprint, email and name

Searching leads by part of an email or name scanned every lead (100k leads: ~300 ms on a
busy 2-core machine). SQLite: an FTS5 trigram index finds the candidates first; triggers
keep it in step with the leads table (new leads, email/name edits, deletes). PostgreSQL:
pg_trgm GIN indexes on lower(fingerprint), lower(email) and lower(name), which the search's
LIKE conditions use as they are. Where the pg_trgm extension cannot be created (no
privilege), the search keeps scanning: slower, same answers.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STATEMENTS = [
    "CREATE VIRTUAL TABLE leads_fts USING fts5(fingerprint, email, name, content='leads', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER leads_fts_insert AFTER INSERT ON leads BEGIN "
    "INSERT INTO leads_fts(rowid, fingerprint, email, name) "
    "VALUES (new.id, new.fingerprint, new.email, new.name); END",
    "CREATE TRIGGER leads_fts_delete AFTER DELETE ON leads BEGIN "
    "INSERT INTO leads_fts(leads_fts, rowid, fingerprint, email, name) "
    "VALUES ('delete', old.id, old.fingerprint, old.email, old.name); END",
    "CREATE TRIGGER leads_fts_update AFTER UPDATE OF fingerprint, email, name ON leads BEGIN "
    "INSERT INTO leads_fts(leads_fts, rowid, fingerprint, email, name) "
    "VALUES ('delete', old.id, old.fingerprint, old.email, old.name); "
    "INSERT INTO leads_fts(rowid, fingerprint, email, name) "
    "VALUES (new.id, new.fingerprint, new.email, new.name); END",
    "INSERT INTO leads_fts(leads_fts) VALUES ('rebuild')",
]


PG_COLUMNS = ("fingerprint", "email", "name")


def _postgresql() -> None:
    bind = op.get_bind()
    try:
        # In public, so dropping another schema (tests use one each) never drops it.
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            for col in PG_COLUMNS:
                bind.exec_driver_sql(f"CREATE INDEX ix_leads_{col}_trgm ON leads "
                                     f"USING gin (lower({col}) public.gin_trgm_ops)")
    except Exception:  # noqa: BLE001 - no privilege for the extension: search still works
        return


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
        return
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for col in PG_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_leads_{col}_trgm")
        return
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in ("leads_fts_insert", "leads_fts_delete", "leads_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS leads_fts")
