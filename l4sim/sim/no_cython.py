"""What the engine's C type declarations mean without Cython: nothing.

The hot generators declare C types for their integer locals (cycles, CPU
numbers) and for the simulator's own objects, as Cython's pure-Python mode
writes them (``@cython.locals``). Compiled, they become C variables and struct
fields; run as plain Python with Cython installed, Cython's own module makes
them no-ops; without Cython, this module does. Either way the code is the
same Python and gives the same records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])


class _CType:
    """A C integer type in a declaration: ``cython.longlong``, or ``[::1]`` for an array of it."""

    def __getitem__(self, _dimensions: object) -> _CType:
        return self


class _NoCython:
    compiled = False
    int = _CType()
    longlong = _CType()

    @staticmethod
    def locals(**types: object) -> Callable[[_F], _F]:
        return lambda function: function


cython = _NoCython()
