"""``agentdesk sims serve`` end to end: the real command in a subprocess, the official openai SDK
as the client, Ctrl-C to stop it.

tests/sims/test_served.py drives ``sims.serve.serve`` in-process; this is the command a user
types: the workspace and scenario file are read, the URLs printed (with the real port when
asked for port 0), the sims answer over a socket, and SIGINT ends it cleanly. Every wait has a
deadline.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import openai
import pytest

from agentdesk.tokens.counting import count_chat, count_text
from tests.cli.support import WORKSPACE, WriteWorkspace

SCRIPT = Path(sys.executable).with_name("agentdesk")
STARTUP_SECONDS = 20.0
STOP_SECONDS = 10.0

QUICK_SIMS = """\
sims:
  llm: {ttft: {dist: fixed, value: 0.01}, per_token: 0.0}
  crm: {latency: {dist: fixed, value: 0.0}}
"""
"""Served sims run on the real clock: keep their latency negligible."""

SCENARIO = """\
description: The CRM is down; the LLM is fine.
services:
  crm:
    faults:
      - {kind: error, status: 503, rate: 1.0}
"""

MESSAGES: list[Any] = [
    {"role": "system", "content": "You triage support tickets."},
    {"role": "user", "content": "Ticket T-1001: I was charged twice."},
]
URL_LINE = re.compile(r"^\s+(\w+)\s+(http://\S+)$")


@dataclass
class Served:
    process: subprocess.Popen[str]
    banner: list[str]
    urls: dict[str, str]


def _lines(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


def _read_urls(lines: queue.Queue[str | None], deadline: float) -> tuple[list[str], dict[str, str]]:
    """The banner up to the fourth URL line; fails at the deadline or if the process ends."""
    banner: list[str] = []
    urls: dict[str, str] = {}
    while len(urls) < 4:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no URLs printed in time; got {banner}"
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        assert line is not None, f"the server exited before printing its URLs: {banner}"
        banner.append(line)
        found = URL_LINE.match(line)
        if found:
            urls[found[1]] = found[2]
    return banner, urls


@pytest.fixture
def served(write_workspace: WriteWorkspace, tmp_path: Path) -> Iterator[Served]:
    if not SCRIPT.is_file():
        pytest.skip(f"no console script at {SCRIPT}")
    root = write_workspace(
        {"agentdesk.yaml": WORKSPACE + QUICK_SIMS, "scenarios/crm-down.yaml": SCENARIO}
    )
    scenario = root / "scenarios" / "crm-down.yaml"
    process = subprocess.Popen(
        [str(SCRIPT), "sims", "serve", "-w", str(root), "--port", "0", "--scenario", str(scenario)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        banner, urls = _read_urls(lines, time.monotonic() + STARTUP_SECONDS)
        yield Served(process, banner, urls)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_SECONDS)
        reader.join(timeout=STOP_SECONDS)


def test_serve_prints_every_sim_with_its_real_port(served: Served) -> None:
    assert served.banner[0] == "Serving sims (scenario crm-down); Ctrl-C stops."
    assert set(served.urls) == {"llm", "crm", "payments", "knowledge"}
    ports = {re.findall(r"^http://127\.0\.0\.1:(\d+)/", url)[0] for url in served.urls.values()}
    assert len(ports) == 1 and ports != {"0"}
    assert served.urls["llm"].endswith("/llm/v1")


def test_the_openai_sdk_gets_a_completion_with_exact_usage(served: Served) -> None:
    sdk = openai.OpenAI(base_url=served.urls["llm"], api_key="test-key", max_retries=0, timeout=10)
    completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.object == "chat.completion"
    text = completion.choices[0].message.content
    assert text
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_chat("gpt-4o-mini", MESSAGES).tokens
    assert completion.usage.completion_tokens == count_text("gpt-4o-mini", text).tokens
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_the_scenario_file_is_served(served: Served) -> None:
    response = httpx.get(f"{served.urls['crm']}/tickets/T-1001", timeout=10)
    assert response.status_code == 503


def test_ctrl_c_stops_the_server_cleanly(served: Served) -> None:
    httpx.get(f"{served.urls['knowledge']}/search", params={"q": "refund"}, timeout=10)
    served.process.send_signal(signal.SIGINT)
    try:
        code = served.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not stop within {STOP_SECONDS} s of SIGINT")
    assert served.process.stderr is not None
    stderr = served.process.stderr.read()
    assert code in (0, 130), stderr
    assert "Traceback" not in stderr
