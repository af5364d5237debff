terraform {
  required_version = ">= 1.9"
  required_providers {
    # test/terraform checks against @cdktf/provider-google 16.12, the schema of this provider 6.50.
    # Terraform >= 1.9: the variable validations read contract.json.
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
  }
}
