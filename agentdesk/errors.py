"""Every error agentdesk raises on purpose, and where it points.

    AgentdeskError
    ├── SpecError            one or more problems in workspace files; nothing runs
    │                        (.problems: list[Problem], each with file, line, column, message)
    ├── WorkspaceNotFound    no agentdesk.yaml where one was expected
    ├── ServiceConfigError   a service cannot be reached as configured (missing API key variable)
    ├── RunError             a run could not start (unknown pipeline, bad input)
    ├── StoreError           the store cannot be opened or read as asked (bad --db URL,
    │                        unwritable file, a newer schema; store/database.py)
    ├── RequestBodyError     `agentdesk tokens` got a body that is not a chat request
    │                        (tokens/chat_request.py; file:line:column and JSON path)
    └── TraceFileError       a trace file that cannot be imported
                             (incidents/otlp_import.py; file:line and JSON path)

Failures *inside* a run (timeouts, 5xx, invalid model output, refused calls) are not
exceptions: they are events, and a run that cannot go on ends with a typed stop reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one file, at a 1-based line and column (0 when unknown)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}" if self.column else f":{self.line}"
        return f"{where}: {self.message}"


class AgentdeskError(Exception):
    """Base of the errors agentdesk raises on purpose; the message is meant for users."""

    exit_code = 1


class SpecError(AgentdeskError):
    """Workspace files with problems; ``problems`` holds all of them, sorted by place."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__("\n".join([header, *(str(p) for p in self.problems)]))


class WorkspaceNotFound(AgentdeskError):
    exit_code = 2

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: no agentdesk.yaml here (is this a workspace?)")


class ServiceConfigError(AgentdeskError):
    exit_code = 2


class RunError(AgentdeskError):
    exit_code = 2
