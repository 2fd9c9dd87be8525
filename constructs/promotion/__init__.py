"""Phase 04: the promotion workflow, as Step Functions fragments read in execution order.

- workflow.py: PromotionWorkflow, the one chain: admission -> model -> staging -> approval -> prod -> record
- admission.py: input and model package checks
- endpoint_stage.py: one endpoint stage's rollout (deploy, wait, smoke test, restore); staging and prod
- approval.py: the human gate; release_record.py: prod's release record, autoscaling and announcement
- guardrails.py: the deployment guardrails (blue/green, alarm auto-rollback); tasks.py: task builders
- targets.py: what the workflow deploys to (typed references from the other stacks)
"""

from constructs.promotion.targets import PromotionTargets
from constructs.promotion.workflow import PromotionWorkflow

__all__ = ["PromotionTargets", "PromotionWorkflow"]
