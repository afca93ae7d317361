"""Datasets an agent is built and judged with: DVC versioning and Great Expectations contracts."""
