# bqbr in one project, backing up two others nightly to a GCS bucket. See ../../README.md.

terraform {
  required_version = ">= 1.9"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

variable "project_id" {
  description = "The project bqbr runs in."
  type        = string
  default     = "acme-bqbr"
}

variable "region" {
  description = "Region of the services and schedules."
  type        = string
  default     = "us-central1"
}

variable "image_tag" {
  description = "The tag of both images pushed to Artifact Registry."
  type        = string
  default     = "0.1.0"
}

locals {
  registry = "${var.region}-docker.pkg.dev/${var.project_id}/bqbr"
}

module "bqbr" {
  source = "../../modules/bqbr"

  project_id          = var.project_id
  region              = var.region
  dispatcher_image    = "${local.registry}/dispatcher:${var.image_tag}"
  worker_image        = "${local.registry}/worker:${var.image_tag}"
  source_project_ids  = ["acme-sales", "acme-analytics"]
  restore_project_ids = ["acme-restore-sandbox"]
  backup_bucket_names = ["acme-bq-backups"]
  staging_bucket_name = "acme-bqbr-staging"
  bucket_location     = "US"
  api_invokers        = ["user:oncall@acme.example", "serviceAccount:ci@acme-bqbr.iam.gserviceaccount.com"]

  schedules = {
    # The Java service's request format (no operationId: each night is a new operation).
    nightly-sales = {
      schedule  = "30 1 * * *"
      time_zone = "Europe/Berlin"
      request = jsonencode({
        bigQuery = {
          projectId = "acme-sales"
          tablesToBackup = [
            { datasetName = "sales", tables = ["orders", "customers"] },
            { datasetName = "analytics", tableFilter = "daily_*" },
          ]
        }
        backupStorage = {
          gcsOptions = {
            uri           = "gs://acme-bq-backups/nightly"
            exportOptions = { format = "AVRO", overwrite = true }
          }
        }
      })
    }
    nightly-analytics = {
      schedule = "0 2 * * *"
      request = jsonencode({
        bigQuery = { projectId = "acme-analytics" }
        backupStorage = {
          gcsOptions = {
            uri           = "gs://acme-bq-backups/analytics"
            exportOptions = { format = "AVRO", overwrite = true }
          }
        }
      })
    }
  }
}

output "dispatcher_url" {
  description = "Where the CLI and HTTP API reach bqbr."
  value       = module.bqbr.dispatcher_url
}

output "topics" {
  description = "Topic names by role."
  value       = module.bqbr.topics
}
