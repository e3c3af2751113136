"""Canary keys: API keys planted in the environment never reach any output agentdesk writes.

The workspace's services name two key variables. One canary has an API key's shape
(``sk-canary-…``), the other is a plain string only its value can give away. Both are also
pasted into the runs' inputs, where they flow into request paths, CRM error messages, run
inputs and stop reasons — so a missing scrub anywhere would show. Then every output is
searched byte for byte: the store's files (database, WAL, shared memory), the events file,
stdout and stderr of ``run`` (summary, ``--json``) and of ``runs`` / ``runs show``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from click.testing import Result

from tests.cli.support import Invoke, WriteWorkspace

SHAPED = f"sk-canary-{uuid.uuid4().hex}"
PLAIN = f"canary-plain-{uuid.uuid4().hex}"

WORKSPACE = """\
name: canary
seed: 7
scenario: happy
services:
  llm: {sim: llm, api_key_env: CANARY_LLM_KEY}
  crm: {sim: crm, api_key_env: CANARY_CRM_KEY}
models:
  gpt-4o-mini: {service: llm}
policies:
  retry: {max_attempts: 1}
"""

PIPELINE = """\
name: leak
input:
  example: {ticket: T-1001, name: Ada}
steps:
  - id: lookup
    kind: tool
    service: crm
    path: /tickets/{{ input.ticket }}
    on_error: continue
  - id: greet
    kind: llm
    model: gpt-4o-mini
    prompt: prompts/hello.md
"""


def _outputs(*results: Result) -> list[bytes]:
    return [r.stdout_bytes for r in results] + [r.stderr_bytes for r in results]


def test_canary_keys_reach_no_output(
    agentdesk: Invoke, write_workspace: WriteWorkspace, tmp_path: Path, store_db: Path
) -> None:
    root = write_workspace(
        {
            "agentdesk.yaml": WORKSPACE,
            "pipelines/leak.yaml": PIPELINE,
            "prompts/hello.md": "Hello {{ input.name }}. Keys: {{ input.ticket }}\n",
        }
    )
    inputs = tmp_path / "inputs.jsonl"
    lines = [
        {"ticket": SHAPED, "name": f"Ada, my key is {PLAIN}"},
        {"ticket": PLAIN, "name": f"Bo (Bearer {SHAPED})"},
        {"ticket": "T-1001", "name": "Cy"},
    ]
    inputs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    env = {"CANARY_LLM_KEY": SHAPED, "CANARY_CRM_KEY": PLAIN}
    events = [tmp_path / "events-1.jsonl", tmp_path / "events-2.jsonl"]
    runs = [
        agentdesk("run", "leak", "-w", root, "--inputs", inputs, "--events", events[0], env=env),
        agentdesk(
            "run", "leak", "-w", root, "--inputs", inputs, "--events", events[1], "--json", env=env
        ),
    ]
    assert [r.exit_code for r in runs] == [0, 0], runs[0].output  # 404s, but on_error: continue
    listed = agentdesk("runs", "--json", env=env)
    ref = json.loads(listed.stdout)[0]["ref"]
    reads = [listed, agentdesk("runs", "show", ref, env=env)]
    reads.append(agentdesk("runs", "show", ref, "--json", env=env))

    files = [p for p in store_db.parent.iterdir() if p.name.startswith(store_db.name)]
    files += events
    everything = _outputs(*runs, *reads) + [p.read_bytes() for p in files]
    for canary in (SHAPED, PLAIN):
        leaks = [i for i, data in enumerate(everything) if canary.encode() in data]
        assert leaks == [], f"{canary} leaked into output(s) {leaks}"

    # The canaries did travel: the inputs and the CRM's error messages were stored, scrubbed.
    stored = store_db.read_bytes() + b"".join(
        p.read_bytes() for p in files if p.name.endswith("-wal")
    )
    assert (
        b"No such ticket: '[secret]'" in stored
        or b"No such ticket: '[secret]'" in events[0].read_bytes()
    )
    assert b"my key is [secret]" in events[0].read_bytes()
