output "state_bucket" {
  description = "Bucket for remote Terraform state (backend \"s3\" with use_lockfile = true)."
  value       = aws_s3_bucket.state.bucket
}

output "deploy_role_arns" {
  description = "Set each as the AWS_DEPLOY_ROLE_ARN variable of the matching GitHub environment."
  value       = { for env, role in aws_iam_role.deploy : env => role.arn }
}

output "operator_role_arns" {
  description = "The data-science operator role of each environment named in operator_principals."
  value       = { for env, role in aws_iam_role.operator : env => role.arn }
}

output "diff_role_arn" {
  description = "Set as the repository variable AWS_DIFF_ROLE_ARN to show cdk diff against deployed stacks on PRs."
  value       = aws_iam_role.diff.arn
}

output "cdk_execution_policy_arn" {
  description = "Pass to cdk bootstrap --cloudformation-execution-policies instead of AdministratorAccess."
  value       = aws_iam_policy.cdk_execution.arn
}

output "cdk_bootstrap_command" {
  description = "The bootstrap of this account and region with the least-privilege execution policy."
  value       = "npx cdk bootstrap aws://${data.aws_caller_identity.current.account_id}/${var.region} --cloudformation-execution-policies ${aws_iam_policy.cdk_execution.arn}"
}
