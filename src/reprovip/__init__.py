"""reprovip: is your imaging pipeline reproducible, and by how much is it not?"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Study", "__version__"]


def __getattr__(name: str):
    # `from reprovip import Study` without importing pandas and friends for `reprovip --version`.
    if name == "Study":
        from reprovip.study import Study

        return Study
    raise AttributeError(f"module 'reprovip' has no attribute {name!r}")
