"""Phase 00: the one table of an environment's stacks and the seed's phase numbers they implement.

Stack descriptions are written from it and the synth summary orders stacks by it (the number is never parsed back
out of a description). Stack names come from config/names.py (`Names.stack`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StackPhase:
    """One stack of an environment: its name suffix, the seed phase it implements, and what it holds."""

    key: str  # stack name suffix and `phase` tag: titanic-<env>-<key>
    number: str  # the seed's phase number, "00".."07"
    holds: str  # the end of the stack's description


# Deployed in this order. Phases 02 (ml/ code) and 05 (CI/CD) have no stack; the last stack holds the observability
# part of phase 06 and the cost governance of phase 07 (README phase map).
STACK_PHASES = (
    StackPhase("foundation", "00", "KMS key, log and artifacts buckets, alerts topic"),
    StackPhase("data", "01", "data bucket, validation Lambda, seed dataset"),
    StackPhase("training", "03", "SageMaker training pipeline and model registry"),
    StackPhase("serving", "04", "endpoint role, guard alarms, release records"),
    StackPhase("orchestration", "06", "promotion and retraining workflows, drift monitor"),
    StackPhase("observability", "06-07", "dashboard, alarms with runbooks, log retention, budget, orphan report"),
)
PHASE_NUMBERS = {phase.key: phase.number for phase in STACK_PHASES}
