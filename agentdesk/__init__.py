"""agentdesk: a terminal control panel and local simulator for LLM agent pipelines."""

__version__ = "0.1.0"
