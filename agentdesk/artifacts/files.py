"""Which files in a workspace are artifacts, and which are editors' scaffolding.

Artifacts: ``agentdesk.yaml``; YAML files in ``pipelines/`` and ``scenarios/``; every file in
``prompts/`` and ``schemas/``; JSON Lines and YAML in ``golden/``. Never: anything under a
hidden folder (``.agentdesk/`` holds the store), hidden files, and the temporary files editors
write while saving — vim's swap files and its ``4913`` probe, backups ending in ``~``,
JetBrains' ``___jb_tmp___``/``___jb_old___``, ``sed -i``'s ``sedXXXXXX``, Python tempfile's
``tmpXXXXXXXX``, a pid or counter suffix (``.12345``), VS Code's and others'
``.tmp``/``.crswap``, emacs' ``#file#`` and ``.#file`` locks. Seeing those would
record half-written content as a version; the watcher only ever reads the real file once the
editor has put it in place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

WORKSPACE_FILE = "agentdesk.yaml"
_YAML = (".yaml", ".yml")
_FOLDERS: dict[str, tuple[str, ...] | None] = {
    "pipelines": _YAML,
    "scenarios": _YAML,
    "prompts": None,
    "schemas": None,
    "golden": (".jsonl", *_YAML),
}
"""Artifact folders and the suffixes they hold (None: any)."""
_SCRATCH = re.compile(
    r"""(
        ^\.             # hidden files, emacs .#locks, vim .file.swp
      | ~$              # backups
      | ^\#.*\#$        # emacs autosave
      | \.sw[a-p]$      # vim swap
      | ^4913$          # vim's write probe
      | ___jb_(tmp|old)___$
      | \.(tmp|temp|crswap|bak|orig|part)$
      | \.tmp\.\d+$     # write-to-temp-then-rename with a pid suffix
      | ^sed[A-Za-z0-9]{6}$  # sed -i's temporary file
      | ^tmp[a-z0-9_]{8}$    # Python's tempfile in the same folder (atomic-write helpers)
      | \.\d{3,}$            # a pid or counter suffix: triage.md.12345
    )""",
    re.VERBOSE,
)


def is_scratch(name: str) -> bool:
    """An editor's temporary or backup file (never an artifact)."""
    return bool(_SCRATCH.search(name))


def artifact_path(root: Path, path: Path | str) -> str | None:
    """The workspace-relative posix path when ``path`` is an artifact file, else None.

    Works on paths that no longer exist (a deleted file is still the artifact it was)."""
    try:
        relative = PurePosixPath(Path(path).resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        return None
    parts = relative.parts
    if not parts or any(part.startswith(".") for part in parts) or is_scratch(parts[-1]):
        return None
    if parts == (WORKSPACE_FILE,):
        return WORKSPACE_FILE
    if len(parts) < 2 or parts[0] not in _FOLDERS:
        return None
    suffixes = _FOLDERS[parts[0]]
    if suffixes is not None and relative.suffix not in suffixes:
        return None
    return relative.as_posix()


def artifact_files(root: Path) -> Iterator[str]:
    """Every artifact file in the workspace now, sorted."""
    found = []
    candidates = [root / WORKSPACE_FILE]
    for folder in _FOLDERS:
        base = root / folder
        if base.is_dir():
            candidates.extend(p for p in base.rglob("*") if p.is_file())
    for candidate in candidates:
        path = artifact_path(root, candidate)
        if path is not None and candidate.is_file():
            found.append(path)
    yield from sorted(found)
