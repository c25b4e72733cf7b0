"""Schemathesis against the app in process, with every check: a few thousand stateless cases
(examples, coverage, fuzzing phases) and stateful sequences along the OpenAPI links (create →
read, cancel, delete, divergence). Bounded in time. Prints cases run, failures by check and
operation, and the time taken.

    PYTHONPATH=. python -m benchmarks.fuzz                        # SQLite in a temporary dir
    PYTHONPATH=. python -m benchmarks.fuzz --database-url postgresql+psycopg://.../db
    PYTHONPATH=. python -m benchmarks.fuzz --max-examples 20 --max-time 60   # quicker

Not part of `make test` (tests/service/test_schemathesis.py runs a small version of it)."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import events, from_schema

from tests.service.fuzzing import CHECKS, OPAQUE_OR_FREE_FORM, fuzz_schema


@dataclass
class Tally:
    """What a run did: cases per phase, failures by (check, operation), with one example."""

    cases: Counter[str] = field(default_factory=Counter)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    detail: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, phase: str, recorder: Any, verbose: bool = True) -> None:
        self.cases[phase] += len(recorder.cases)
        for case_id, checks in recorder.checks.items():
            node = recorder.cases.get(case_id)
            label = node.value.operation.label if node is not None else recorder.label
            for check in checks:
                if check.failure_info is None:
                    continue
                key = (check.name, label)
                self.failures[key] += 1
                self.examples.setdefault(key, _describe(check.failure_info, recorder, case_id))
                if verbose:
                    self.detail.setdefault(key, _request(recorder, case_id))


def _request(recorder: Any, case_id: str) -> str:
    interaction = recorder.interactions.get(case_id)
    if interaction is None or interaction.response is None:
        return ""
    req, resp = interaction.request, interaction.response
    return f"{req.method} {req.uri} body={str(req.body)[:200]} -> {resp.content[:300]!r}"


def _describe(info: Any, recorder: Any, case_id: str) -> str:
    failure = info.failure
    interaction = recorder.interactions.get(case_id)
    status = interaction.response.status_code if interaction and interaction.response else "?"
    return f"{failure.title} (status {status}): {str(failure.message)[:300]}"


def run(schema: schemathesis.BaseSchema) -> tuple[Tally, float, str]:
    """Run every phase; return the tally, the seconds taken and why the run stopped."""
    tally = Tally()
    started = time.monotonic()
    stop = "?"
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            tally.add(str(event.phase.value), event.recorder)
        elif isinstance(event, events.FuzzScenarioFinished):
            tally.add("fuzz", event.recorder)
        elif isinstance(event, events.NonFatalError):
            tally.errors.append(f"{event.label}: {event.info.format()[:300]}")
        elif isinstance(event, events.FatalError):
            tally.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            stop = str(event.stop_reason.value)
    return tally, time.monotonic() - started, stop


def report(tally: Tally, seconds: float, stop: str) -> None:
    total = sum(tally.cases.values())
    phases = ", ".join(f"{phase} {n}" for phase, n in sorted(tally.cases.items()))
    print(f"cases: {total} ({phases}) in {seconds:.0f} s ({total / seconds:.0f}/s), stop: {stop}")
    print(f"failures: {sum(tally.failures.values())}")
    for (check, label), n in sorted(tally.failures.items()):
        print(f"  {n:5d}  {check:34s} {label}")
        print(f"         e.g. {tally.examples[(check, label)]}")
        if (check, label) in tally.detail:
            print(f"         {tally.detail[(check, label)]}")
    for error in tally.errors:
        print(f"  error: {error}")
    print(f"positive_data_acceptance off for: {', '.join(OPAQUE_OR_FREE_FORM)}")
    print(f"check settings: {CHECKS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--max-examples", type=int, default=100, help="per operation and phase")
    parser.add_argument("--max-time", type=int, default=600, help="seconds, for the whole run")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    schema = fuzz_schema(
        args.database_url, max_examples=args.max_examples, max_time=args.max_time, seed=args.seed
    )
    report(*run(schema))


if __name__ == "__main__":
    main()
