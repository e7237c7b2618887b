"""The unbiased Pass@k estimator (Chen et al., 2021), as the paper reports it."""

from __future__ import annotations

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Pass@k = 1 - C(n - c, k) / C(n, k) for c correct among n samples.

    Computed in product form, 1 - prod_{i=n-c+1}^{n} (1 - k / i), which is exact in float64
    where the binomials would overflow. k > n raises ValueError.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k > n:
        raise ValueError(f"k={k} is larger than the number of samples n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))
