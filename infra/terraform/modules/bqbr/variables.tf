variable "project_id" {
  description = "The project bqbr runs in: its services, topics, Firestore state and staging bucket."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run services and Cloud Scheduler jobs."
  type        = string
}

variable "dispatcher_image" {
  description = "The dispatcher image (services/Dockerfile built with --build-arg SERVICE=dispatcher)."
  type        = string
}

variable "worker_image" {
  description = "The worker image (services/Dockerfile built with --build-arg SERVICE=worker)."
  type        = string
}

variable "source_project_ids" {
  description = "Projects whose BigQuery datasets are backed up: both services read their metadata and data and run jobs there."
  type        = list(string)
}

variable "restore_project_ids" {
  description = "Projects restores write into (BigQuery data editor for the worker). Empty: none."
  type        = list(string)
  default     = []
}

variable "backup_bucket_names" {
  description = "GCS buckets backups are written to and restored from (object admin for the worker, object viewer for the dispatcher)."
  type        = list(string)
}

variable "staging_bucket_name" {
  description = "The bucket this module creates for extracts on their way to S3, Azure or files (and restores staged from them)."
  type        = string
}

variable "staging_prefix" {
  description = "Folder of the staging bucket bqbr uses (BQBR_STAGING_URI = gs://<bucket>/<prefix>)."
  type        = string
  default     = "staging"
}

variable "staging_retention_days" {
  description = "Staged objects older than this are deleted by the bucket's lifecycle rule (bqbr removes them itself when a transfer ends)."
  type        = number
  default     = 7
}

variable "bucket_location" {
  description = "Location of the staging bucket (keep it with the datasets: BigQuery extracts to a bucket in the dataset's location)."
  type        = string
  default     = "US"
}

variable "firestore_location" {
  description = "Location of the Firestore database."
  type        = string
  default     = "nam5"
}

variable "firestore_database" {
  description = "The Firestore database holding bqbr's state; this module creates it."
  type        = string
  default     = "(default)"
}

variable "api_invokers" {
  description = "IAM members (user:, serviceAccount:, group:) allowed to call the dispatcher's HTTP API; user and service account emails also become BQBR_API_PRINCIPALS."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.api_invokers : can(regex("^(user|serviceAccount|group|domain):", m))])
    error_message = "Each api_invokers entry is an IAM member: user:..., serviceAccount:..., group:... or domain:...."
  }
}

variable "api_audience" {
  description = "Audience of the ID tokens the HTTP API accepts (BQBR_API_AUDIENCE); also a custom audience of the dispatcher service."
  type        = string
  default     = "bqbr-api"
}

variable "allow_gcloud_user_tokens" {
  description = "Accept on the HTTP API the ID tokens `gcloud auth print-identity-token` gives users (audience: gcloud's OAuth client), so `bqbr` just works for a listed user; false: service-account tokens only."
  type        = bool
  default     = true
}

variable "s3_endpoints" {
  description = "S3 endpoints requests may name (BQBR_S3_ENDPOINTS); empty: AWS's own only."
  type        = list(string)
  default     = []
}

variable "azure_account_urls" {
  description = "Azure blob account URLs requests may name (BQBR_AZURE_ACCOUNT_URLS)."
  type        = list(string)
  default     = []
}

variable "credential_secrets" {
  description = "Existing Secret Manager secrets (ids in project_id) mounted as the services' environment, by variable name: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for name in keys(var.credential_secrets) : contains(jsondecode(file("${path.module}/contract.json")).credential_env, name)])
    error_message = "credential_secrets keys must be variables the stores read: see contract.json's credential_env."
  }
}

variable "schedules" {
  description = "Cloud Scheduler jobs publishing a request to bqbr-requests: name => { schedule (cron), time_zone, request (the request's JSON, e.g. jsonencode({...})) }. Never give an operationId: every run must be a new operation."
  type = map(object({
    schedule  = string
    time_zone = optional(string, "Etc/UTC")
    request   = string
  }))
  default = {}
  validation {
    condition     = alltrue([for s in values(var.schedules) : can(jsondecode(s.request)) && !can(jsondecode(s.request).operationId)])
    error_message = "Each scheduled request is a JSON object without an operationId: with one, the first run would take it and every later run would be a no-op (the same operation)."
  }
}

variable "dispatcher_max_instances" {
  description = "Most dispatcher instances."
  type        = number
  default     = 4
}

variable "worker_max_instances" {
  description = "Most worker instances (each runs BigQuery jobs for the tasks it is pushed)."
  type        = number
  default     = 20
}

variable "deletion_protection" {
  description = "Cloud Run deletion protection."
  type        = bool
  default     = true
}
