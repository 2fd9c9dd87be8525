# The CloudFormation execution policy of the CDK bootstrap: what CloudFormation may do when it deploys this app's
# stacks. `cdk bootstrap` attaches AdministratorAccess by default; this policy replaces it:
#
#   cdk bootstrap aws://ACCOUNT/REGION --cloudformation-execution-policies "$(terraform output -raw cdk_execution_policy_arn)"
#
# It covers the resource types the app synthesizes (tests/infra/test_cdk_execution_policy.py reads cdk.out and fails
# when a type is not covered), each on names starting `titanic-<env>-` (stack names, explicit resource names and the
# names CloudFormation generates from stack names) for the environments of this account. Resource "*" appears only
# for actions without resource-level permissions (KMS CreateKey, CloudWatch Logs delivery for Step Functions,
# describe/list calls), each with a condition where the API offers one.
locals {
  prefixes = [for env in var.environments : "titanic-${env}"]
  account  = data.aws_caller_identity.current.account_id
  arn      = "arn:aws"
}

data "aws_iam_policy_document" "cdk_execution" {
  statement {
    sid = "IamRolesOfThisApp"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
      "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
      "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
    ]
    resources = [for prefix in local.prefixes : "${local.arn}:iam::${local.account}:role/${prefix}-*"]
  }

  statement {
    sid       = "PassRolesOfThisAppToItsServices"
    actions   = ["iam:PassRole"]
    resources = [for prefix in local.prefixes : "${local.arn}:iam::${local.account}:role/${prefix}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values = [
        "lambda.amazonaws.com", "states.amazonaws.com", "sagemaker.amazonaws.com", "events.amazonaws.com",
        "scheduler.amazonaws.com",
      ]
    }
  }

  statement {
    sid       = "CreateKeysTaggedForThisProject"
    actions   = ["kms:CreateKey"]
    resources = ["*"] # a key's ARN does not exist before CreateKey; the request must carry the project tag
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/project"
      values   = ["titanic-sagemaker"]
    }
  }

  statement {
    sid = "ManageKeysOfThisProject"
    actions = [
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:GetKeyRotationStatus",
      "kms:UpdateKeyDescription", "kms:EnableKey", "kms:DisableKey", "kms:ScheduleKeyDeletion",
      "kms:TagResource", "kms:UntagResource", "kms:ListResourceTags", "kms:CreateAlias", "kms:UpdateAlias",
      "kms:DeleteAlias", "kms:CreateGrant",
    ]
    resources = ["${local.arn}:kms:${var.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/project"
      values   = ["titanic-sagemaker"]
    }
  }

  statement {
    sid = "EncryptFunctionEnvironmentsWithProjectKeys"
    # A function with KmsKeyArn: Lambda encrypts its environment variables with the caller's permissions (and makes a
    # grant for the function's role, kms:CreateGrant above); reading them back needs Decrypt. Lambda developer guide,
    # "Securing Lambda environment variables".
    actions   = ["kms:Encrypt", "kms:Decrypt"]
    resources = ["${local.arn}:kms:${var.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/project"
      values   = ["titanic-sagemaker"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["lambda.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "AliasesOfThisApp"
    actions   = ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"]
    resources = [for prefix in local.prefixes : "${local.arn}:kms:${var.region}:${local.account}:alias/${prefix}"]
  }

  statement {
    sid = "BucketsOfThisApp"
    actions = [
      "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucket*", "s3:PutBucket*", "s3:DeleteBucketPolicy",
      "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:GetLifecycleConfiguration",
      "s3:PutLifecycleConfiguration",
    ]
    resources = [for prefix in local.prefixes : "${local.arn}:s3:::${prefix}-*"]
  }

  statement {
    sid       = "ReadTheCdkAssets"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"] # Lambda code and the seed CSV, staged by `cdk deploy`
    resources = ["${local.arn}:s3:::cdk-${var.cdk_qualifier}-assets-${local.account}-${var.region}/*"]
  }

  statement {
    sid       = "ReadTheCdkBootstrapVersion"
    actions   = ["ssm:GetParameters", "ssm:GetParameter"]
    resources = ["${local.arn}:ssm:${var.region}:${local.account}:parameter/cdk-bootstrap/${var.cdk_qualifier}/version"]
  }

  statement {
    sid     = "ResolveThePowertoolsLayerOfThePinnedVersion"
    actions = ["ssm:GetParameters", "ssm:GetParameter"]
    # The Lambda functions' Layers property is {{resolve:ssm:/aws/service/powertools/python/...}}: the public
    # parameter Powertools publishes per release (constructs/python_function.py POWERTOOLS_VERSION).
    resources = ["${local.arn}:ssm:${var.region}::parameter/aws/service/powertools/python/*"]
  }

  statement {
    sid = "FunctionsOfThisApp"
    actions = [
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
      "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PutFunctionConcurrency",
      "lambda:DeleteFunctionConcurrency", "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags",
      "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy", "lambda:PutFunctionEventInvokeConfig",
      "lambda:UpdateFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig",
      "lambda:GetFunctionEventInvokeConfig", "lambda:InvokeFunction", "lambda:GetRuntimeManagementConfig",
      "lambda:GetFunctionCodeSigningConfig",
    ]
    resources = [for prefix in local.prefixes : "${local.arn}:lambda:${var.region}:${local.account}:function:${prefix}-*"]
  }

  statement {
    sid       = "UseThePowertoolsLayer"
    actions   = ["lambda:GetLayerVersion"] # the layer that parameter names (AWS-published, account 017000801446)
    resources = ["${local.arn}:lambda:${var.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-*"]
  }

  statement {
    sid = "LogGroupsOfThisApp"
    actions = [
      "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
      "logs:AssociateKmsKey", "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource",
      "logs:ListTagsForResource", "logs:TagLogGroup", "logs:UntagLogGroup",
      "logs:PutMetricFilter", "logs:DeleteMetricFilter", "logs:DescribeMetricFilters",
    ]
    resources = flatten([
      for prefix in local.prefixes : [
        for group in ["/aws/lambda/${prefix}-*", "/aws/vendedlogs/states/${prefix}-*", "/aws/events/${prefix}-*", "/aws/sagemaker/Endpoints/${prefix}-*"] :
        "${local.arn}:logs:${var.region}:${local.account}:log-group:${group}"
      ]
    ])
  }

  statement {
    sid = "StepFunctionsLogDeliveryAndDescribeCalls"
    # CloudWatch Logs' vended-log delivery (a state machine's LoggingConfiguration), the account-level CloudWatch Logs
    # resource policies (the registry audit's AWS::Logs::ResourcePolicy) and these describe/list calls have no
    # resource-level permissions.
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
      "logs:DeleteResourcePolicy", "logs:DescribeLogGroups", "cloudwatch:DescribeAlarms",
    ]
    resources = ["*"]
  }

  statement {
    sid = "QueuesTopicsAndSubscriptionsOfThisApp"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl",
      "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags",
      "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:TagResource",
      "sns:UntagResource", "sns:ListTagsForResource", "sns:Subscribe", "sns:Unsubscribe",
      "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes",
    ]
    resources = flatten([
      for prefix in local.prefixes : [
        "${local.arn}:sqs:${var.region}:${local.account}:${prefix}-*",
        "${local.arn}:sns:${var.region}:${local.account}:${prefix}-*",
      ]
    ])
  }

  statement {
    sid = "AlarmsRulesAndSchedulesOfThisApp"
    actions = [
      "cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm", "cloudwatch:DeleteAlarms",
      "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
      "cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards",
      "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:PutTargets", "events:RemoveTargets",
      "events:ListTargetsByRule", "events:TagResource", "events:UntagResource", "events:ListTagsForResource",
      "scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
      "scheduler:TagResource", "scheduler:UntagResource", "scheduler:ListTagsForResource",
    ]
    resources = flatten([
      for prefix in local.prefixes : [
        "${local.arn}:cloudwatch:${var.region}:${local.account}:alarm:${prefix}-*",
        "${local.arn}:cloudwatch::${local.account}:dashboard/${prefix}-*",
        "${local.arn}:events:${var.region}:${local.account}:rule/${prefix}-*",
        "${local.arn}:scheduler:${var.region}:${local.account}:schedule/default/${prefix}-*",
      ]
    ])
  }

  statement {
    sid = "BudgetsOfThisApp"
    # The observability stack's monthly budget (phase 07); budgets are global, their ARNs have no region.
    actions = [
      "budgets:ViewBudget", "budgets:ModifyBudget", "budgets:TagResource", "budgets:UntagResource",
      "budgets:ListTagsForResource",
    ]
    resources = [for prefix in local.prefixes : "${local.arn}:budgets::${local.account}:budget/${prefix}-*"]
  }

  statement {
    sid = "StateMachinesOfThisApp"
    actions = [
      "states:CreateStateMachine", "states:UpdateStateMachine", "states:DeleteStateMachine",
      "states:DescribeStateMachine", "states:TagResource", "states:UntagResource", "states:ListTagsForResource",
    ]
    resources = [for prefix in local.prefixes : "${local.arn}:states:${var.region}:${local.account}:stateMachine:${prefix}-*"]
  }

  statement {
    sid = "ReleaseRecordsTablesOfThisApp"
    # The table only (CloudFormation owns it, never its items: no item actions here).
    actions = [
      "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
      "dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeTimeToLive",
      "dynamodb:DescribeContributorInsights", "dynamodb:DescribeKinesisStreamingDestination",
      "dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource",
    ]
    resources = [for prefix in local.prefixes : "${local.arn}:dynamodb:${var.region}:${local.account}:table/${prefix}-*"]
  }

  statement {
    sid = "EncryptTablesWithTheKeysOfThisProject"
    # DynamoDB uses a table's customer managed key with the caller's permission when it creates or updates the table.
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = ["${local.arn}:kms:${var.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/project"
      values   = ["titanic-sagemaker"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid = "SageMakerPipelinesRegistriesAndTrackingServersOfThisApp"
    actions = [
      "sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline", "sagemaker:DescribePipeline",
      "sagemaker:CreateModelPackageGroup", "sagemaker:DeleteModelPackageGroup", "sagemaker:DescribeModelPackageGroup",
      "sagemaker:PutModelPackageGroupPolicy", "sagemaker:GetModelPackageGroupPolicy",
      "sagemaker:DeleteModelPackageGroupPolicy",
      "sagemaker:CreateMlflowTrackingServer", "sagemaker:UpdateMlflowTrackingServer",
      "sagemaker:DeleteMlflowTrackingServer", "sagemaker:DescribeMlflowTrackingServer",
      "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags",
    ]
    resources = flatten([
      for prefix in local.prefixes : [
        for kind in ["pipeline", "model-package-group", "mlflow-tracking-server"] :
        "${local.arn}:sagemaker:${var.region}:${local.account}:${kind}/${prefix}-*"
      ]
    ])
  }

  # An MLflow app's ARN ends in an ID SageMaker generates (mlflow-app/<id>), never in its name: the app cannot be
  # named in a Resource before it exists, so these two statements are limited by the project tag instead (the
  # stacks tag every resource; CreateMlflowApp accepts aws:RequestTag, the mlflow-app type aws:ResourceTag).
  statement {
    sid       = "CreateMlflowAppsTaggedForThisProject"
    actions   = ["sagemaker:CreateMlflowApp", "sagemaker:AddTags"]
    resources = ["${local.arn}:sagemaker:${var.region}:${local.account}:mlflow-app/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/project"
      values   = ["titanic-sagemaker"]
    }
  }

  statement {
    sid = "ManageMlflowAppsOfThisProject"
    actions = [
      "sagemaker:DescribeMlflowApp", "sagemaker:UpdateMlflowApp", "sagemaker:DeleteMlflowApp", "sagemaker:AddTags",
      "sagemaker:DeleteTags", "sagemaker:ListTags",
    ]
    resources = ["${local.arn}:sagemaker:${var.region}:${local.account}:mlflow-app/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/project"
      values   = ["titanic-sagemaker"]
    }
  }
}

resource "aws_iam_policy" "cdk_execution" {
  name        = "titanic-sagemaker-cdk-execution"
  description = "CloudFormation execution policy of the CDK bootstrap: only what the titanic-sagemaker stacks deploy."
  policy      = data.aws_iam_policy_document.cdk_execution.json
}
