# The data-science operator role of each environment: a person (a principal named in var.operator_principals) reads
# logs and metrics, describes the project's resources, reads the registry audit and the release records, uses the
# environment's MLflow UI, starts the training pipeline and answers or rolls back releases of that environment only;
# nothing else (no deploy, no delete, no data). docs/03 "MLflow access" states who may do what in MLflow. The names follow the app's
# `titanic-<env>-...` convention (stacks/serving.py, stacks/orchestration.py, stacks/training.py, scripts/release.py).
locals {
  operated = { for env, principals in var.operator_principals : env => principals if contains(var.environments, env) }
}

data "aws_iam_policy_document" "operator_trust" {
  for_each = local.operated

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = each.value
    }
    dynamic "condition" {
      for_each = var.operator_require_mfa ? [true] : []
      content {
        test     = "Bool"
        variable = "aws:MultiFactorAuthPresent"
        values   = ["true"]
      }
    }
  }
}

data "aws_iam_policy_document" "operator" {
  for_each = local.operated

  statement {
    sid     = "ReadThisEnvironmentsLogs"
    actions = ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery"]
    # SageMaker writes every processing and training job of the account to two shared log groups (job names carry
    # the pipeline execution id, not the environment), so those two are readable whole.
    resources = flatten([
      for group in [
        "/aws/lambda/titanic-${each.key}-*", "/aws/vendedlogs/states/titanic-${each.key}-*",
        "/aws/sagemaker/Endpoints/titanic-${each.key}-*", "/aws/sagemaker/ProcessingJobs",
        "/aws/sagemaker/TrainingJobs", "/aws/events/titanic-${each.key}-*", # the registry audit log (make registry-audit)
      ] : ["${local.arn}:logs:${var.region}:${local.account}:log-group:${group}", "${local.arn}:logs:${var.region}:${local.account}:log-group:${group}:*"]
    ])
  }

  statement {
    sid = "ReadMetricsAndQueryResults"
    # No resource-level permissions for these reads (metric data, query results, the lists that find resources).
    actions = [
      "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
      "logs:GetQueryResults", "logs:DescribeLogGroups", "states:ListStateMachines", "sagemaker:ListEndpoints",
      "sagemaker:ListEndpointConfigs", "sagemaker:ListModels", "sagemaker:ListModelPackages",
      "sagemaker:ListPipelineExecutions", "sagemaker:ListTrainingJobs", "sagemaker:ListProcessingJobs",
      "sagemaker:ListMlflowTrackingServers", "sagemaker:ListMlflowApps", "tag:GetResources",
    ]
    resources = ["*"]
  }

  statement {
    sid = "ReadThisEnvironmentsBudgetAndReleaseRecords"
    # make release-check (spend within budget) and make orphans (what the release records reference), phase 07.
    actions = ["budgets:ViewBudget", "dynamodb:Query"]
    resources = [
      "${local.arn}:budgets::${local.account}:budget/titanic-${each.key}-monthly",
      "${local.arn}:dynamodb:${var.region}:${local.account}:table/titanic-${each.key}-releases",
    ]
  }

  statement {
    sid       = "ReadThisEnvironmentsAlarms"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"]
    resources = ["${local.arn}:cloudwatch:${var.region}:${local.account}:alarm:titanic-${each.key}-*"]
  }

  statement {
    sid = "DescribeThisEnvironmentsResources"
    actions = [
      "sagemaker:DescribePipeline", "sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps",
      "sagemaker:DescribePipelineDefinitionForExecution", "sagemaker:DescribeModelPackageGroup",
      "sagemaker:DescribeModelPackage", "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
      "sagemaker:DescribeModel", "sagemaker:ListTags",
      "states:DescribeStateMachine", "states:ListExecutions", "states:DescribeExecution",
      "states:GetExecutionHistory", "states:DescribeStateMachineForExecution",
      "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:ListStackResources",
    ]
    resources = [
      "${local.arn}:sagemaker:${var.region}:${local.account}:pipeline/titanic-${each.key}-training",
      "${local.arn}:sagemaker:${var.region}:${local.account}:pipeline/titanic-${each.key}-training/execution/*",
      "${local.arn}:sagemaker:${var.region}:${local.account}:model-package-group/titanic-${each.key}-models",
      "${local.arn}:sagemaker:${var.region}:${local.account}:model-package/titanic-${each.key}-models/*",
      "${local.arn}:sagemaker:${var.region}:${local.account}:endpoint/titanic-${each.key}-*",
      "${local.arn}:sagemaker:${var.region}:${local.account}:endpoint-config/titanic-${each.key}-*",
      "${local.arn}:sagemaker:${var.region}:${local.account}:model/titanic-${each.key}-*",
      "${local.arn}:states:${var.region}:${local.account}:stateMachine:titanic-${each.key}-*",
      "${local.arn}:states:${var.region}:${local.account}:execution:titanic-${each.key}-*:*",
      "${local.arn}:cloudformation:${var.region}:${local.account}:stack/titanic-${each.key}-*/*",
    ]
  }

  statement {
    sid = "ReadThisEnvironmentsReleaseHistory"
    # make releases / make rollback read the release records the promotion workflow writes (scripts/release.py).
    actions   = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:DescribeTable"]
    resources = ["${local.arn}:dynamodb:${var.region}:${local.account}:table/titanic-${each.key}-releases"]
  }

  statement {
    sid = "DecryptTheReleaseHistory"
    # The table is encrypted with the environment key (created by CDK, so named here by its alias), which DynamoDB
    # uses with the reader's permission, only through DynamoDB.
    actions   = ["kms:Decrypt"]
    resources = ["${local.arn}:kms:${var.region}:${local.account}:key/*"]
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = ["alias/titanic-${each.key}"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "StartThisEnvironmentsTrainingPipeline"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = ["${local.arn}:sagemaker:${var.region}:${local.account}:pipeline/titanic-${each.key}-training"]
  }

  statement {
    sid = "ApproveOrRejectThisEnvironmentsModelPackages"
    # Approving a package in the environment's group is what starts a release (stacks/orchestration.py).
    actions   = ["sagemaker:UpdateModelPackage"]
    resources = ["${local.arn}:sagemaker:${var.region}:${local.account}:model-package/titanic-${each.key}-models/*"]
  }

  statement {
    sid = "AnswerTheReleaseApprovalGate"
    # SendTaskSuccess/SendTaskFailure have no resource-level permissions: the task token, sent only to this
    # environment's approvers (its alerts topic), is what names the waiting release (make approve/reject-release).
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    resources = ["*"]
  }

  statement {
    sid = "ReadThisEnvironmentsReleaseRecords"
    # make registry-audit reads the release history (titanic-<env>-releases, docs/04).
    actions   = ["dynamodb:Query", "dynamodb:DescribeTable"]
    resources = ["${local.arn}:dynamodb:${var.region}:${local.account}:table/titanic-${each.key}-releases"]
  }

  statement {
    sid = "DecryptThisEnvironmentsReleaseRecords"
    # The table is encrypted with the environment's key, whose ARN the stacks create: limited to that key by its
    # env tag and to reads through DynamoDB.
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = ["${local.arn}:kms:${var.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/project"
      values   = ["titanic-sagemaker"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/env"
      values   = [each.key]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid = "UseThisEnvironmentsMlflowApp"
    # The MLflow UI (a presigned URL) and its REST calls. An app authorizes every MLflow call, read or write, as the
    # one action CallMlflowAppApi, and its ARN ends in a generated ID: limited to this environment's app by its tags.
    actions = [
      "sagemaker:CreatePresignedMlflowAppUrl", "sagemaker:DescribeMlflowApp", "sagemaker:CallMlflowAppApi",
    ]
    resources = ["${local.arn}:sagemaker:${var.region}:${local.account}:mlflow-app/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/project"
      values   = ["titanic-sagemaker"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/env"
      values   = [each.key]
    }
  }

  statement {
    sid = "ReadThisEnvironmentsMlflowTrackingServer"
    # With [mlflow] tracking = "server": the UI and MLflow's read calls only (runs, experiments, models, artifacts
    # through the server); logging and deleting stay with the training job.
    actions = [
      "sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker:DescribeMlflowTrackingServer",
      "sagemaker-mlflow:AccessUI", "sagemaker-mlflow:GetExperiment", "sagemaker-mlflow:GetExperimentByName",
      "sagemaker-mlflow:SearchExperiments", "sagemaker-mlflow:GetRun", "sagemaker-mlflow:SearchRuns",
      "sagemaker-mlflow:GetMetricHistory", "sagemaker-mlflow:ListArtifacts", "sagemaker-mlflow:GetRegisteredModel",
      "sagemaker-mlflow:SearchRegisteredModels", "sagemaker-mlflow:GetModelVersion",
      "sagemaker-mlflow:SearchModelVersions", "sagemaker-mlflow:GetLatestModelVersions",
      "sagemaker-mlflow:GetModelVersionByAlias", "sagemaker-mlflow:GetDownloadURIForModelVersionArtifacts",
    ]
    resources = ["${local.arn}:sagemaker:${var.region}:${local.account}:mlflow-tracking-server/titanic-${each.key}-mlflow"]
  }

  statement {
    sid       = "RollBackThroughThisEnvironmentsPromotionWorkflow"
    actions   = ["states:StartExecution"] # make rollback starts titanic-<env>-promotion in rollback mode
    resources = ["${local.arn}:states:${var.region}:${local.account}:stateMachine:titanic-${each.key}-promotion"]
  }
}

resource "aws_iam_role" "operator" {
  for_each = local.operated

  name                 = "titanic-${each.key}-operator"
  description          = "Data-science operator of titanic-sagemaker ${each.key}: read, start the pipeline, answer releases."
  assume_role_policy   = data.aws_iam_policy_document.operator_trust[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "operator" {
  for_each = local.operated

  name   = "operate-titanic-${each.key}"
  role   = aws_iam_role.operator[each.key].id
  policy = data.aws_iam_policy_document.operator[each.key].json
}
