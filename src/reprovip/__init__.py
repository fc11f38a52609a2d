"""reprovip: is your imaging pipeline reproducible, and by how much is it not?"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
