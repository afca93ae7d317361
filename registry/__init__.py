"""The agent registry on MLflow: versions, stages and lineage (the registry issue)."""
