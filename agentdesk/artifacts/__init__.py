"""Prompts and configs as content-hashed artifacts: which files, the active set, hot reload.

    files     which workspace files are artifacts (and which are editors' temporary files)
    session   ``ArtifactSession``: the active version of every file; validating an edit
              against it, recording it (valid or rejected), activating or keeping the old one
    watch     watchfiles on the workspace's folders → ``ArtifactSession.apply``
    compare   one pipeline run on two releases, side by side, with the deltas

Ids (``spec.sources``) and the registry in SQLite (``store.artifacts``) live beside the code
that needs them; this package is what ties them to files that change while agentdesk runs.
"""
