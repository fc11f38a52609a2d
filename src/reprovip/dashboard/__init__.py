"""The read-only web dashboard over study catalogs (FastAPI + Jinja2, served by uvicorn).

``create_app(open_sources(["study.yaml"]))`` builds the ASGI app; ``reprovip serve`` runs it.
"""

from reprovip.dashboard.app import create_app
from reprovip.dashboard.security import check_bind, is_loopback
from reprovip.dashboard.sources import open_sources

__all__ = ["check_bind", "create_app", "is_loopback", "open_sources"]
