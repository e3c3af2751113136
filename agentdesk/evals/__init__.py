"""Evals: golden sets run through a pipeline under scenarios, checked, gated, reported.

    golden       JSON Lines cases (input, expected, assertions, tags); every bad line reported
    assertions   checks on the answer (equals, contains, regex, JSON Schema, JSON path, number)
                 and on the run itself (stop reason, cost, latency, retries, breakers, fallbacks)
    judge        the LLM-judged assertion (scripted on the sim LLM, real through the workspace)
    runner       cases × scenarios on the virtual clock (``Simulation.execute``) → case results
    report       per scenario and tag: pass rates, latency percentiles, cost, errors, breakers
    gates        the thresholds file and its verdicts; ``junit`` writes JUnit XML for CI
    compounding  per-step success rates composed into end-to-end reliability

Headless (an import contract says so): ``agentdesk eval`` (``cli/eval.py``) prints it.
"""
