"""progrpo training."""
