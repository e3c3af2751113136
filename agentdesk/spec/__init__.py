"""Workspace files as typed, frozen models: pipelines, policies, workspace config, scenarios.

``models`` declares the shapes; ``yamlpos`` reads YAML remembering where every value came
from; ``validation`` turns pydantic's errors into file:line:column problems; ``graph`` checks
the step tree (unique ids, forward-only jumps); ``templates`` compiles the strict, sandboxed
templates that prompts and request fields are written in; ``loader`` ties them together and
reports every problem in every file at once.
"""
