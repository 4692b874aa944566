"""The HTTP API: ingest, queries, live stream and the tracker files, on FastAPI/uvicorn."""
