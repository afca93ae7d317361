"""The built-in evaluators, one plugin module each."""
