"""Built-in deploy targets: ``bentoml-local`` (a bento per version, served on loopback) and ``kubernetes`` (manifests)."""
