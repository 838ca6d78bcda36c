"""A connector used only by tests (loaded into workers with RELAY_PLUGINS=tests.support.connectors).

Every action appends one line to the ``ledger`` file it is given, so a test can count how many times
a step's action really ran — across processes, including ones the test killed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from integrations.base import Action, CallContext, Connector, ConnectorError
from integrations.registry import register

_LEDGER = {"ledger": {"type": "string"}, "mark": {"type": "string"}}


def _append(ledger: str, mark: str) -> int:
    path = Path(ledger)
    with path.open("a") as fh:
        fh.write(mark + "\n")
    return sum(1 for line in path.read_text().splitlines() if line == mark)


class TestConnector(Connector):
    key = "test"
    title = "Test"
    actions = (
        Action("record", "Record a call", {"type": "object", "required": ["ledger", "mark"], "properties": {
            **_LEDGER, "value": {}}, "additionalProperties": False}),
        Action("sleep", "Sleep then record", {"type": "object", "required": ["ledger", "mark", "seconds"],
               "properties": {**_LEDGER, "seconds": {"type": "number"}}, "additionalProperties": False}),
        Action("flaky", "Fail N times then succeed", {"type": "object", "required": ["ledger", "mark", "failures"],
               "properties": {**_LEDGER, "failures": {"type": "integer"}, "retryable": {"type": "boolean"}},
               "additionalProperties": False}),
    )

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        started = time.time()
        if action == "sleep":
            time.sleep(float(inputs["seconds"]))
        calls = _append(inputs["ledger"], inputs["mark"])
        if action == "flaky" and calls <= int(inputs["failures"]):
            raise ConnectorError(f"planned failure {calls} of {inputs['failures']}",
                                 retryable=bool(inputs.get("retryable", True)))
        output = {"mark": inputs["mark"], "calls": calls, "value": json.loads(json.dumps(inputs.get("value")))}
        if action == "sleep":
            # When the sleep began and ended, so a test can see which calls overlapped.
            output.update(started=started, finished=time.time())
        return output


register(TestConnector())
