# What the type checker needs of Cython's pure-Python mode (Cython ships no types for
# it): the engine's C type declarations, which change no value (l4sim.sim.no_cython).
from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

class _CType:
    def __getitem__(self, dimensions: object) -> _CType: ...

compiled: bool
int: _CType
longlong: _CType

def locals(**types: object) -> Callable[[_F], _F]: ...
