"""The attribute names agentdesk writes into traces and reads back out of them.

Three families, one module, so export and import cannot drift apart:

- OpenTelemetry's GenAI conventions for model calls and tool executions (``gen_ai.*``,
  development status in semantic-conventions 1.37+). Where the name changed, import reads the
  old name too: ``gen_ai.system`` (now ``gen_ai.provider.name``) and
  ``gen_ai.usage.prompt_tokens``/``completion_tokens`` (now ``input_tokens``/``output_tokens``);
  export writes ``gen_ai.system`` beside ``gen_ai.provider.name`` because many backends still
  read only the old one.
- OpenTelemetry's HTTP client conventions (stable) for tool calls, with the pre-1.21 names
  (``http.method``, ``http.status_code``, ``http.url``) read on import.
- agentdesk's own facts under ``agentdesk.*``: run, step, attempt, release, artifacts, stop
  reason, cost — what a replay needs and no convention names.
"""

from __future__ import annotations

# --- OpenTelemetry: GenAI ---------------------------------------------------------------------

GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_PROVIDER = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"
"""Deprecated for ``gen_ai.provider.name``; still what many backends read."""
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_CACHED_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"

LEGACY_INPUT_TOKENS = "gen_ai.usage.prompt_tokens"
LEGACY_OUTPUT_TOKENS = "gen_ai.usage.completion_tokens"
LEGACY_PROMPT = "gen_ai.prompt"
LEGACY_COMPLETION = "gen_ai.completion"
"""Content as one attribute (semantic conventions before 1.28, and many SDKs since)."""
INDEXED_PROMPT = "gen_ai.prompt."
INDEXED_COMPLETION = "gen_ai.completion."
"""OpenLLMetry's flattened content: ``gen_ai.prompt.0.role``, ``gen_ai.prompt.0.content``."""
CONTENT_EVENTS = {
    "gen_ai.content.prompt": LEGACY_PROMPT,
    "gen_ai.content.completion": LEGACY_COMPLETION,
}
"""Span events that carried content (semantic conventions 1.26-1.27): event name → attribute."""

CHAT = "chat"
EXECUTE_TOOL = "execute_tool"
MODEL_OPERATIONS = frozenset(
    {CHAT, "text_completion", "generate_content", "embeddings", "completion"}
)
"""Operations that are a call to a model (``completion`` is an older SDKs' spelling)."""

# --- OpenTelemetry: HTTP client and errors ----------------------------------------------------

HTTP_METHOD = "http.request.method"
HTTP_STATUS = "http.response.status_code"
URL_FULL = "url.full"
URL_PATH = "url.path"
SERVER_ADDRESS = "server.address"
ERROR_TYPE = "error.type"

LEGACY_HTTP_METHOD = "http.method"
LEGACY_HTTP_STATUS = "http.status_code"
LEGACY_HTTP_URL = "http.url"

SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"

# --- agentdesk --------------------------------------------------------------------------------

PREFIX = "agentdesk."
RUN_ID = "agentdesk.run.id"
PIPELINE = "agentdesk.pipeline"
SESSION = "agentdesk.session"
SEED = "agentdesk.seed"
SCENARIO = "agentdesk.scenario"
RELEASE = "agentdesk.release.id"
RUN_STATUS = "agentdesk.run.status"
STOP_REASON = "agentdesk.stop_reason"
RUN_INPUT = "agentdesk.run.input"
RUN_OUTPUT = "agentdesk.run.output"
STEP_PATH = "agentdesk.step.path"
STEP_KIND = "agentdesk.step.kind"
STEP_STATUS = "agentdesk.step.status"
STEP_ERROR = "agentdesk.step.error"
STEP_OUTPUT = "agentdesk.step.output"
ARTIFACTS = "agentdesk.artifact.ids"
ATTEMPT = "agentdesk.attempt"
SERVICE = "agentdesk.service"
TARGET = "agentdesk.target"
TIMEOUT = "agentdesk.timeout_s"
ERROR_KIND = "agentdesk.error_kind"
COST_USD = "agentdesk.cost.usd"
UNPRICED = "agentdesk.cost.unpriced"
APPROXIMATE = "agentdesk.usage.approximate"
REPORTED_INPUT_TOKENS = "agentdesk.usage.reported_input_tokens"
REPORTED_OUTPUT_TOKENS = "agentdesk.usage.reported_output_tokens"
USAGE_MISMATCH = "agentdesk.usage.mismatch"
BUDGET_USED = "agentdesk.budget.used."
BUDGET_LIMIT = "agentdesk.budget.limit."
"""Followed by the kind (``usd``, ``tokens``, ``seconds``, ``steps``): the run scope's last
charge and its limits."""
EVENT_PREFIX = "agentdesk."
"""Span events are named ``agentdesk.{event type}``; their attributes ``agentdesk.{field}``."""
