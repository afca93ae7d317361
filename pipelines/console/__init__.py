"""The governance console: read-only, server-rendered pages over the registry, the gate's decisions, the audit
log, drift and rollouts (``agentgov console``). ``queries`` gathers, ``app`` routes and renders."""
