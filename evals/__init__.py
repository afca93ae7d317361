"""Evaluations: what an evaluator is. Drift and task evaluation arrive with the evals issue."""

from agentgov.evals.protocol import EVALUATORS, Evaluator

__all__ = ["EVALUATORS", "Evaluator"]
