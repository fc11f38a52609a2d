"""The crate under construction: entities shared between executions, and the files (outputs, traced files).

Outputs are content-addressed: one File per distinct output content (BLAKE3), named by every path it was stored
as, so bitwise-identical results of different executions are one entity. See ``docs/export.md``.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rocrate.model.contextentity import ContextEntity

from reprovip.errors import NotFoundError, StoreError
from reprovip.store.blobs import file_hashes

if TYPE_CHECKING:
    from rocrate.model.entity import Entity
    from rocrate.rocrate import ROCrate

    from reprovip.store import BlobStore


def iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds") if ts is not None else None


def ref(entities: Iterable[Entity]) -> list[dict[str, str]]:
    return [{"@id": e.id} for e in entities]


class Crate:
    """The crate under construction and the entities shared between executions (one per id)."""

    def __init__(self, crate: ROCrate, blobs: BlobStore, with_blobs: bool) -> None:
        self.crate, self.blobs, self.with_blobs = crate, blobs, with_blobs
        self.files: dict[str, Entity] = {}  # BLAKE3 digest -> the File holding those bytes
        self.seen: dict[str, tuple[dict[str, None], dict[str, Entity]]] = {}  # digest -> its paths, parameters
        self.by_path: dict[tuple[str, str], tuple[str, Entity]] = {}  # (execution, out/<relpath>) -> digest, File
        # The entities added by `entity`: ROCrate.get scans every entity for an id it does not hold (quadratic).
        self.known: dict[str, Entity] = {}

    def entity(self, id_: str, type_: str | list[str], **props: Any) -> Entity:
        """The contextual entity ``id_``, added on first use with ``props`` (None values left out)."""
        found = self.known.get(id_)
        if found is None:
            props = {k: v for k, v in props.items() if v is not None}
            found = self.crate.add(ContextEntity(self.crate, id_, properties={"@type": type_, **props}))
            self.known[id_] = found
        return found

    def value(self, id_: str, name: str, value: Any, **props: Any) -> Entity:
        return self.entity(id_, "PropertyValue", name=name, value=value, **props)

    def _hashes(self, digest: str, semantic: str | None) -> list[dict[str, str]]:
        ids = [self.value(f"#blake3/{digest}", "blake3", digest, propertyID="blake3")]
        if semantic:
            ids.append(
                self.value(
                    f"#semantic-hash/{semantic}",
                    "reprovip semantic hash",
                    semantic,
                    propertyID="reprovip-semantic-hash",
                    description="BLAKE3 of the decoded content (array and the header fields that matter)",
                )
            )
        return ref(ids)

    def output(self, row: dict[str, Any], parameter: Entity) -> Entity:
        """The File of an output's bytes: one per distinct content, named by every path it was stored as."""
        digest, relpath = row["blob"], row["relpath"] or row["name"]
        found = self._output(row, digest, relpath, parameter)
        # The trace lists the working folder: a declared output is out/<relpath> there ({outdir} is out/).
        self.by_path[(row["execution_id"], f"out/{relpath}")] = (digest, found)
        return found

    def _output(self, row: dict[str, Any], digest: str, relpath: str, parameter: Entity) -> Entity:
        names, params = self.seen.setdefault(digest, ({}, {}))
        names[relpath], params[parameter.id] = None, parameter  # dicts: ordered, without repeats
        if digest in self.files:
            found = self.files[digest]
            found["alternateName"], found["exampleOfWork"] = list(names), list(params.values())
            return found
        path = self.blobs.path(digest, row["suffix"] or "")
        props: dict[str, Any] = dict(
            name=relpath,
            alternateName=[relpath],
            contentSize=str(row["size"]) if row["size"] is not None else None,
            encodingFormat=mimetypes.guess_type(relpath)[0],
            identifier=self._hashes(digest, row["semantic_hash"]),
            exampleOfWork=[{"@id": parameter.id}],
        )
        if path.is_file():
            found_hashes = file_hashes(path, ("blake3", "sha256"))
            if found_hashes["blake3"] != digest:  # a damaged blob: its sha256 would contradict its name
                raise StoreError(
                    f"{path}: the bytes of output {row['name']!r} ({relpath}) no longer match their hash (BLAKE3 "
                    f"{found_hashes['blake3'][:16]}..., expected {digest[:16]}...): the store is damaged; run the "
                    "execution again (`reprovip run --force`) before exporting"
                )
            props["sha256"] = found_hashes["sha256"]
        elif self.with_blobs:
            raise NotFoundError(
                f"{path}: the bytes of output {row['name']!r} ({relpath}) are not in the store; "
                "export without --with-blobs, or run the study again"
            )
        else:
            props["description"] = "its bytes are no longer in the study's store: only its hashes are known"
        props = {k: v for k, v in props.items() if v is not None}
        if self.with_blobs:
            found = self.crate.add_file(source=path, dest_path=f"blobs/{path.name}", properties=props)
        else:
            found = self.data(path.resolve().as_uri(), "File", **props)
        self.files[digest] = found
        return found

    def data(self, id_: str, type_: str, **props: Any) -> Entity:
        """A data entity whose bytes are not in the crate, linked from the root as RO-Crate requires."""
        known = id_ in self.known
        found = self.entity(id_, type_, **props)
        if not known:
            self.crate.root_dataset.append_to("hasPart", found)
        return found

    def traced(self, eid: str, f: dict[str, Any]) -> Entity:
        """The File of a file an execution wrote in its working folder: its declared output's File when it is one,
        else one of its own (two files with the same bytes stay two files of the data flow)."""
        output = self.by_path.get((eid, f["relpath"]))
        if output is not None and output[0] == f["blob"]:
            return output[1]
        return self.data(
            f"#execution/{eid}/file/{quote(f['relpath'])}",
            "File",
            name=f["relpath"],
            contentSize=str(f["size"]),
            identifier=self._hashes(f["blob"], f["semantic_hash"]),
            description="a file the execution wrote in its working folder; only its hashes were kept",
        )
