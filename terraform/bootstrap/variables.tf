variable "region" {
  description = "Region of the state bucket and of the CDK bootstrap roles the deploy roles may assume."
  type        = string
  default     = "eu-west-1"
}

variable "owner" {
  description = "Value of the mandatory owner tag."
  type        = string
  default     = "ml-platform-team"
}

variable "cost_center" {
  description = "Value of the mandatory cost_center tag."
  type        = string
  default     = "cc-ml-0001"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may deploy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "environments" {
  description = "Environments deployed to this account; each gets a deploy role trusted only by its GitHub environment."
  type        = list(string)
  default     = ["dev", "prod"]
}

variable "cdk_qualifier" {
  description = "Qualifier of the CDK bootstrap stack (the default of `cdk bootstrap`)."
  type        = string
  default     = "hnb659fds"
}

variable "operator_principals" {
  description = "Per environment, the IAM principals (role or user ARNs) that may assume titanic-<env>-operator."
  type        = map(list(string))
  default     = {}

  validation {
    condition = alltrue([
      for principals in values(var.operator_principals) :
      alltrue([for arn in principals : can(regex("^arn:aws:iam::[0-9]{12}:(role|user)/[\\w+=,.@/-]+$", arn))])
    ])
    error_message = "operator_principals values must be IAM role or user ARNs (no wildcards, no account root)."
  }
}

variable "operator_require_mfa" {
  description = "Operators must have signed in with MFA (set false when the principals are SSO roles, whose sessions carry no MFA flag)."
  type        = bool
  default     = true
}
