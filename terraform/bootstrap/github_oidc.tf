# GitHub Actions authenticates with short-lived OIDC tokens; no access keys exist anywhere.
resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

# One deploy role per environment, trusted only by jobs running in the matching GitHub environment of this repository
# (prod's GitHub environment requires a reviewer: that is the manual approval gate).
data "aws_iam_policy_document" "deploy_trust" {
  for_each = toset(var.environments)

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${each.key}"]
    }
  }
}

# The deploy role can do one thing: assume the CDK bootstrap roles of this account and region, which hold the actual
# deployment permissions (CloudFormation, asset publishing, lookups).
data "aws_iam_policy_document" "deploy_permissions" {
  statement {
    sid     = "AssumeCdkBootstrapRoles"
    actions = ["sts:AssumeRole", "sts:TagSession"]
    resources = [
      for role in ["deploy", "file-publishing", "image-publishing", "lookup"] :
      "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/cdk-${var.cdk_qualifier}-${role}-role-${data.aws_caller_identity.current.account_id}-${var.region}"
    ]
  }
}

# After a deploy the workflow smoke-tests the environment (make pipeline-start, make smoke): start and follow its
# training pipeline, and call its endpoints with the smoke request. The pipeline_start workflow uses the same.
data "aws_iam_policy_document" "post_deploy_checks" {
  for_each = toset(var.environments)

  statement {
    sid       = "StartThisEnvironmentsTrainingPipeline"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = ["arn:aws:sagemaker:${var.region}:${data.aws_caller_identity.current.account_id}:pipeline/titanic-${each.key}-training"]
  }
  statement {
    sid     = "FollowItsExecutions"
    actions = ["sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"]
    resources = [
      "arn:aws:sagemaker:${var.region}:${data.aws_caller_identity.current.account_id}:pipeline/titanic-${each.key}-training/execution/*",
    ]
  }
  statement {
    sid     = "SmokeTestThisEnvironmentsEndpoints"
    actions = ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    resources = [
      for stage in ["staging", "prod"] :
      "arn:aws:sagemaker:${var.region}:${data.aws_caller_identity.current.account_id}:endpoint/titanic-${each.key}-${stage}"
    ]
  }
}

resource "aws_iam_role" "deploy" {
  for_each = toset(var.environments)

  name               = "titanic-${each.key}-github-deploy"
  description        = "GitHub Actions deploys titanic-sagemaker ${each.key} through the CDK bootstrap roles."
  assume_role_policy = data.aws_iam_policy_document.deploy_trust[each.key].json
  # A deploy followed by a training pipeline run (the dev smoke test) takes more than the default hour.
  max_session_duration = 7200
}

resource "aws_iam_role_policy" "post_deploy_checks" {
  for_each = toset(var.environments)

  name   = "post-deploy-checks"
  role   = aws_iam_role.deploy[each.key].id
  policy = data.aws_iam_policy_document.post_deploy_checks[each.key].json
}

# Pull requests may show `cdk diff` against the deployed stacks (checks.yml, repository variable AWS_DIFF_ROLE_ARN):
# a role trusted by this repository's pull-request jobs that can only assume the CDK lookup role, which the CDK
# bootstrap makes read-only (ReadOnlyAccess, kms:Decrypt denied); `make diff DIFF_METHOD=template` uses that role.
data "aws_iam_policy_document" "diff_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:pull_request"]
    }
  }
}

data "aws_iam_policy_document" "diff_permissions" {
  statement {
    sid       = "AssumeTheReadOnlyCdkLookupRole"
    actions   = ["sts:AssumeRole", "sts:TagSession"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/cdk-${var.cdk_qualifier}-lookup-role-${data.aws_caller_identity.current.account_id}-${var.region}"]
  }
}

resource "aws_iam_role" "diff" {
  name                 = "titanic-sagemaker-github-diff"
  description          = "GitHub pull requests read the deployed titanic-sagemaker stacks through the CDK lookup role."
  assume_role_policy   = data.aws_iam_policy_document.diff_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "diff" {
  name   = "assume-cdk-lookup-role"
  role   = aws_iam_role.diff.id
  policy = data.aws_iam_policy_document.diff_permissions.json
}

resource "aws_iam_role_policy" "deploy" {
  for_each = toset(var.environments)

  name   = "assume-cdk-bootstrap-roles"
  role   = aws_iam_role.deploy[each.key].id
  policy = data.aws_iam_policy_document.deploy_permissions.json
}
