"""Incidents: recorded runs and production traces, kept for replay.

    semconv      the attribute names traces use: OpenTelemetry's (``gen_ai.*``, HTTP client)
                 and agentdesk's own (``agentdesk.*``), in one place for both directions
    anyvalue     OTLP ``AnyValue`` key/values to and from plain Python values
    ids          trace and span ids: derived from agentdesk's span ids on export, hex or
                 base64 on import
    trace        ``ImportedTrace``: the spans of one or more traces, typed, whatever wrote them
    otlp_export  events → an OTLP JSON ``ExportTraceServiceRequest``
    otlp_import  OTLP JSON files (one request, or JSON Lines of them) → ``ImportedTrace``
    otlp         the two directions' public face
    from_trace   an imported trace made into an incident: workspace, pipeline and tape from
                 its spans, one run on them for the recorded log

Headless like the engine: nothing here imports the UI, the command line or the store. What
must never leave the machine (secrets, personal data) is taken out by a redactor the caller
hands in, the same one the store uses.
"""
