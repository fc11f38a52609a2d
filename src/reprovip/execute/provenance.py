"""Provenance of the machine an execution ran on: host, OS, kernel, CPU, libc, Python and packages."""

from __future__ import annotations

import functools
import json
import os
import platform
import socket
import sys
from typing import Any

import blake3


def _cpu() -> dict[str, Any]:
    model, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.machine()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = value.strip()
    except OSError:
        pass
    return {"model": model, "flags": " ".join(sorted(flags.split())), "count": os.cpu_count()}


def _metadata_files(entry: str) -> list[str]:
    """The metadata files of the distributions installed in one ``sys.path`` folder, in listing order."""
    try:
        names = os.listdir(entry or ".")
    except OSError:  # a missing folder, or a zip file (not scanned)
        return []
    found = []
    for name in names:
        path = os.path.join(entry or ".", name)
        if name.endswith(".dist-info"):
            found.append(os.path.join(path, "METADATA"))
        elif name.endswith(".egg-info"):
            found.append(os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path)
    return found


def _packages() -> dict[str, str]:
    """{name: version} of every distribution on ``sys.path``, from the header of its metadata file.

    What ``importlib.metadata.distributions()`` finds, without importing it (20 ms, every local worker pays it at
    start) nor parsing whole files with an email parser (ten times slower): ``*.dist-info`` and ``*.egg-info``
    entries of each ``sys.path`` folder, in order, a later one of the same name replacing an earlier one.
    """
    packages = {}
    for entry in sys.path:
        for path in _metadata_files(entry):
            fields: dict[str, str] = {}
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        if not line.strip():
                            break  # end of the header
                        key, sep, value = line.partition(":")
                        if sep and key in ("Name", "Version") and key not in fields:
                            fields[key] = value.strip()
            except OSError:
                continue
            if fields.get("Name"):
                packages[fields["Name"].lower()] = fields.get("Version", "")
    return packages


@functools.lru_cache(maxsize=1)
def machine_provenance() -> dict[str, Any]:
    """Facts about this process's machine and environment, computed once per process.

    Returns
    -------
    dict
        ``hostname``, ``os``, ``kernel``, ``arch``, ``cpu`` (model, sorted flags, count), ``libc``,
        ``python`` (version, implementation, executable) and ``packages`` ({name: version}).
    """
    uname = platform.uname()
    libc_name, libc_version = platform.libc_ver()
    packages = _packages()
    return {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "kernel": f"{uname.system} {uname.release} {uname.version}",
        "arch": uname.machine,
        "cpu": _cpu(),
        "libc": f"{libc_name} {libc_version}".strip(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "packages": dict(sorted(packages.items())),
    }


@functools.lru_cache(maxsize=1)
def machine_provenance_hash() -> str:
    """A digest of :func:`machine_provenance`, so the catalog stores each distinct record once."""
    return blake3.blake3(json.dumps(machine_provenance(), sort_keys=True).encode()).hexdigest()[:32]


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a record's nested dicts into dotted keys; other values (lists included) are leaves.

    Examples
    --------
    >>> flatten({"cpu": {"model": "x", "count": 2}, "os": "Linux"})
    {'cpu.model': 'x', 'cpu.count': 2, 'os': 'Linux'}
    """
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}
