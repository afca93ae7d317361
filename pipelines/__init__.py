"""Prefect flows that compose the engines (the pipelines issue)."""
