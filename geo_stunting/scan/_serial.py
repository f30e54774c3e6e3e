"""Serial twins of the ``parallel=True`` kernels, for small problems.

numba takes two to three times longer to compile a ``parallel=True`` loop
than the same loop without it (``_loo_sums``: 3.0 CPU s against 1.2 s): on a
first run (an empty numba cache) that is seconds spent to save milliseconds
when there are a few hundred points. The twin is the same Python function
compiled without ``parallel``, so ``prange`` runs as ``range``. Each iteration
of those loops writes only its own outputs, so the twin's results are
identical, bit for bit (checked in the tests). The twin has its own name, so
the two never share an entry of numba's on-disk cache.
"""

from __future__ import annotations

import types
from typing import Any

import numba

__all__ = ["SERIAL_BELOW", "serial_twin"]

#: Problems with fewer points (or scan locations) than this use the serial twin.
SERIAL_BELOW = 500


def serial_twin(kernel: Any) -> Any:
    """`kernel` (a ``numba.njit(parallel=True)`` dispatcher) compiled without ``parallel``."""
    func = kernel.py_func
    twin = types.FunctionType(
        func.__code__, func.__globals__, f"{func.__name__}_serial", func.__defaults__,
        func.__closure__,
    )  # fmt: skip
    twin.__qualname__ = f"{func.__qualname__}_serial"  # its own file in numba's cache
    twin.__module__ = func.__module__
    twin.__doc__ = func.__doc__
    return numba.njit(cache=True)(twin)
