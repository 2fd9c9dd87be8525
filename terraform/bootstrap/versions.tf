# Bootstrap of what the CDK app cannot create for itself: the Terraform state bucket and the GitHub OIDC trust that
# lets GitHub Actions deploy without long-lived keys. Run once per AWS account, with an administrator's credentials.
# Its own state is local on purpose (it creates the remote backend); keep terraform.tfstate out of git.
terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.66.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "titanic-sagemaker"
      env         = "shared"
      owner       = var.owner
      managed_by  = "terraform"
      cost_center = var.cost_center
    }
  }
}
