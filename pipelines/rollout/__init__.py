"""Staged rollouts: the state in the registry (``state``), the reconciling controller (``controller``), what
people do to a rollout (``actions``), the step analysis from the inference log (``analysis``), the routing
seam (``traffic``), ``rollout status`` (``report``), ``traffic replay`` (``replay``) and the Prefect flow (``flow``).

The controller combines engines (the plan from ``deploy``, the analysis and
agreement from ``evals``, the gate from ``policies``, stages and the lock from
``registry``), which is why it lives in the pipelines.
"""
