"""The ``agentgov`` command line. It parses, calls an engine, and prints."""
