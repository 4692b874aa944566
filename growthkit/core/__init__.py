"""The data model, ingest rules and analytics, on a SQLAlchemy connection (SQLite or PostgreSQL)."""
