"""ProGRPO inside the trainers researchers already use, on the same `progrpo_train.algorithm` functions.

- `progrpo_train.integrations.trl`: `ProGRPOTrainer`, a `trl.GRPOTrainer` subclass (extra `trl`).
- `progrpo_train.integrations.verl`: importing it registers verl's advantage estimator "progrpo"
  and the trainer hook that hands it log-probs (extra `verl`); verl loads it as a plugin.

Nothing here is imported by the rest of the package, so neither TRL nor verl is needed to use it.
"""
