"""The Python client (httpx): query API, live stream, export, and a batching Tracker."""
