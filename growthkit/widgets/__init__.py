"""Dock widgets: views over data they are handed, and the Qt table models."""
