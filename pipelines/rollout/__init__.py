"""Staged rollouts: the state in the registry, the reconciling controller, the step analysis and the flow.

The controller combines engines (the plan from ``deploy``, the analysis and
agreement from ``evals``, the gate from ``policies``, stages and the lock from
``registry``), which is why it lives in the pipelines.
"""
