"""The ``bentoml-local`` deploy target: a bento per agent version, built with BentoML, served on 127.0.0.1."""
