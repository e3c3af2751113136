"""Where the loader's bytes come from, and what they are called: artifact ids and releases.

**Artifact id** — the sha256 (hex) of a file's *normalized* content. Normalization does two
things and nothing else: a leading UTF-8 byte-order mark is dropped, and every line ending
(``\\r\\n`` or a lone ``\\r``) becomes ``\\n``. So a file saved by an editor on Windows and the
same file saved on Linux are one artifact; a change to whitespace inside a line, a trailing
newline added or removed, or a different encoding are real changes (they reach the model).

**Release id** — the sha256 of a small canonical JSON document (``release_manifest``): the
sorted ``(path, artifact id)`` pairs of every file a pipeline was loaded from (agentdesk.yaml,
the pipeline, its prompts and schema files), the configuration of every model the pipeline can
call (its primary and fallback models, as declared in agentdesk.yaml, prices included), and
the agentdesk version. The scenario is *not* part of a release: a release is what would ship,
a scenario is the weather it is tested in; runs record both.

**File sources** — the loader reads through a ``FileSource``. ``DiskFiles`` reads the disk;
``OverlayFiles`` answers some workspace-relative paths from memory (the active versions kept
by hot reload, a candidate edit being validated, a stored version being compared) and the rest
from disk. Whatever it reads, the loader hashes exactly the bytes it parsed, so a run's release
names what actually ran even when the file changes under it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agentdesk import __version__


def normalize(data: bytes) -> bytes:
    """The bytes an artifact id is computed from (see the module docstring)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def artifact_id(data: bytes) -> str:
    """sha256 hex of the normalized content."""
    return hashlib.sha256(normalize(data)).hexdigest()


def release_manifest(
    files: Mapping[str, str], models: Mapping[str, Any], version: str = __version__
) -> dict[str, Any]:
    """What a release id hashes: files (path → artifact id), model configs, agentdesk version."""
    return {
        "files": [[path, files[path]] for path in sorted(files)],
        "models": {name: models[name] for name in sorted(models)},
        "agentdesk": version,
    }


def release_id(manifest: Mapping[str, Any]) -> str:
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class SourceFiles:
    """The files one load read: artifact id and normalized content, by workspace path."""

    ids: dict[str, str] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)

    def note(self, path: str, data: bytes) -> None:
        content = normalize(data)
        self.ids[path] = hashlib.sha256(content).hexdigest()
        self.contents[path] = content

    def copy(self) -> SourceFiles:
        return SourceFiles(dict(self.ids), dict(self.contents))


class FileSource(Protocol):
    """What the loader reads files through."""

    def read(self, path: Path) -> bytes:
        """The file's bytes; raises OSError (FileNotFoundError when absent)."""
        ...

    def is_file(self, path: Path) -> bool: ...


class DiskFiles:
    """The files as they are on disk."""

    def read(self, path: Path) -> bytes:
        return path.read_bytes()

    def is_file(self, path: Path) -> bool:
        return path.is_file()


DISK = DiskFiles()


class OverlayFiles:
    """Some workspace files answered from memory (by workspace-relative posix path), the rest
    from disk. ``None`` as content hides a file (as if deleted)."""

    def __init__(self, root: Path, overrides: Mapping[str, bytes | None]) -> None:
        self.root = root.resolve()
        self.overrides = dict(overrides)

    def _key(self, path: Path) -> str | None:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def read(self, path: Path) -> bytes:
        key = self._key(path)
        if key is not None and key in self.overrides:
            data = self.overrides[key]
            if data is None:
                raise FileNotFoundError(2, "No such file or directory", str(path))
            return data
        return path.read_bytes()

    def is_file(self, path: Path) -> bool:
        key = self._key(path)
        if key is not None and key in self.overrides:
            return self.overrides[key] is not None
        return path.is_file()
