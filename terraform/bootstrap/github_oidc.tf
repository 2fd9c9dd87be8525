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

resource "aws_iam_role" "deploy" {
  for_each = toset(var.environments)

  name                 = "titanic-${each.key}-github-deploy"
  description          = "GitHub Actions deploys titanic-sagemaker ${each.key} through the CDK bootstrap roles."
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "deploy" {
  for_each = toset(var.environments)

  name   = "assume-cdk-bootstrap-roles"
  role   = aws_iam_role.deploy[each.key].id
  policy = data.aws_iam_policy_document.deploy_permissions.json
}
