"""Every p-value in ``results.json`` says its alternative: the rule and its check.

A p-value is a number under a key named ``p``, ``p_…``, ``…_p`` or
``…_p_value``. Its alternative is ``"<key>_alternative"`` beside it, else the
``"alternative"`` of the nearest dict that holds it (itself or an ancestor):
one of ``"two-sided"``, ``"greater"`` or ``"less"``.

The package's rule (see `geo_stunting.stats._permutation`): global tests of
clustering of cases are one-sided ``"greater"``; local tests (LISA, Gi*)
and comparisons of two groups are two-sided.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ALTERNATIVES", "is_p_key", "missing_alternatives"]

ALTERNATIVES = ("two-sided", "greater", "less")


def is_p_key(key: str) -> bool:
    """Whether a ``results.json`` key names a p-value.

    >>> [is_p_key(k) for k in ("p", "p_sim", "lisa_p", "rho_p_value", "permutations", "p_case")]
    [True, True, True, True, False, True]
    """
    return key == "p" or key.startswith("p_") or key.endswith(("_p", "_p_value"))


def missing_alternatives(tree: Any, *, path: str = "", inherited: str | None = None) -> list[str]:
    """Paths of the numeric p-values whose alternative is not stated (empty when all are).

    >>> missing_alternatives({"a": {"p_value": 0.2}, "b": {"p": 0.1, "alternative": "greater"}})
    ['a.p_value']
    """
    out: list[str] = []
    if isinstance(tree, Mapping):
        own = tree.get("alternative")
        here = own if own in ALTERNATIVES else inherited
        for key, value in tree.items():
            where = f"{path}.{key}" if path else str(key)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and is_p_key(str(key)):
                if tree.get(f"{key}_alternative") not in ALTERNATIVES and here is None:
                    out.append(where)
            else:
                out.extend(missing_alternatives(value, path=where, inherited=here))
    elif isinstance(tree, list | tuple):
        for pos, value in enumerate(tree):
            out.extend(missing_alternatives(value, path=f"{path}[{pos}]", inherited=inherited))
    return out
