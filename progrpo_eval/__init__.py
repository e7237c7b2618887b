"""progrpo evaluation and analysis."""
