"""Validate a crate with roc-validator (``rocrate_validator``) without a network.

roc-validator resolves the crate's JSON-LD ``@context`` URLs over HTTP (to check the context, and to read the
metadata as RDF for the SHACL shapes), and this machine, like CI, has no network. Its offline mode serves HTTP
from its cache only; :func:`validate` fills a fresh cache with the two contexts a Provenance Run Crate 0.5 names,
from the copies in ``contexts/``:

- ``ro-crate-1.1.jsonld.gz``: https://w3id.org/ro/crate/1.1/context (version 1.1.3), gzipped, from
  github.com/ResearchObject/ro-crate ``docs/_specification/1.1/context.jsonld`` at commit
  d6177765ae297bac142664d413c71c61697eb497 (CC0-1.0).
- ``workflow-run.json``: https://w3id.org/ro/terms/workflow-run/context, from github.com/ResearchObject/ro-terms
  ``workflow-run/context.json`` at commit 7429de85130d8cc0b23787bc45b42705dc0dffd5.

A context missing from the cache makes the validation fail (never pass): ``test_rocrate`` checks it.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import requests
import urllib3
from requests_cache import CachedSession

CONTEXTS = Path(__file__).parent / "contexts"
SERVED = {
    "https://w3id.org/ro/crate/1.1/context": lambda: gzip.decompress(
        (CONTEXTS / "ro-crate-1.1.jsonld.gz").read_bytes()
    ),
    "https://w3id.org/ro/terms/workflow-run/context": lambda: (CONTEXTS / "workflow-run.json").read_bytes(),
}
PROFILE = "provenance-run-crate-0.5"


def _cache(path: Path, urls: list[str]) -> None:
    """A requests-cache SQLite cache at ``path`` holding a 200 response with the local copy of each URL."""
    session = CachedSession(str(path), backend="sqlite")
    for url in urls:
        body = SERVED[url]()
        response = requests.Response()
        response.status_code, response.url, response.encoding, response._content = 200, url, "utf-8", body
        response.headers["Content-Type"] = "application/ld+json"
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(body), headers=dict(response.headers), status=200, preload_content=False, request_url=url
        )
        response.request = requests.Request("GET", url).prepare()
        session.cache.save_response(response)
    session.close()


def validate(crate: Path, cache: Path, *, urls: list[str] | None = None) -> list[str]:
    """The issues roc-validator finds in ``crate`` at REQUIRED severity against the Provenance Run Crate 0.5
    profile (and the profiles it extends), offline, with the contexts ``urls`` (default: both) in its cache."""
    from rocrate_validator import models, services

    _cache(cache, list(SERVED) if urls is None else urls)
    settings = services.ValidationSettings(
        rocrate_uri=str(crate),
        profile_identifier=PROFILE,
        requirement_severity=models.Severity.REQUIRED,
        offline=True,
        cache_path=cache,
    )
    result = services.validate(settings)
    return [f"{issue.check.identifier}: {issue.message}" for issue in result.get_issues()]
