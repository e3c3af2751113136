"""Workspace files as typed, frozen models: pipelines, policies, workspace config, scenarios.

``models`` declares the shapes; ``loader`` reads YAML with positions so every problem is
reported as file:line:column, all at once; ``templates`` compiles the strict, sandboxed
templates that prompts and request fields are written in.
"""
