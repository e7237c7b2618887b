"""Metrics computed from samples: Pass@k, token statistics, diversity."""
