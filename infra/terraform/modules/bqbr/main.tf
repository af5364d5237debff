# bqbr on Google Cloud: see ../../README.md for what each resource is for and the IAM each account gets.
# Topic, subscription and index names and the subscription settings come from contract.json, generated
# from the code (`npm run terraform:contract`); test/terraform checks this module against it.

locals {
  contract = jsondecode(file("${path.module}/contract.json"))

  # Pushes carry an OIDC token of the push account for this audience; Cloud Run accepts it as a custom
  # audience, and the service checks it again (BQBR_PUSH_AUDIENCE).
  push_audience = {
    dispatcher = "bqbr-dispatcher-push"
    worker     = "bqbr-worker-push"
  }

  # The API accepts ID tokens for its custom audience, for the dispatcher's deterministic URL (what the
  # CLI asks a service account's token for by default), and, with allow_gcloud_user_tokens, the tokens
  # `gcloud auth print-identity-token` gives a user: their audience is gcloud's OAuth client, whatever was
  # asked (docs/security.md, "The CLI's token"). Cloud Run accepts those from a user with run.invoker.
  # The deterministic URL is known before the service exists (https://cloud.google.com/run/docs/triggering/https-request,
  # "Deterministic URL"), so the service's own environment can name it.
  dispatcher_url = "https://bqbr-dispatcher-${data.google_project.project.number}.${var.region}.run.app"
  api_audiences = concat(
    [var.api_audience, local.dispatcher_url],
    var.allow_gcloud_user_tokens ? [local.gcloud_client_id] : [],
  )
  gcloud_client_id = "32555940559.apps.googleusercontent.com"

  api_principals = [for m in var.api_invokers : split(":", m)[1] if startswith(m, "user:") || startswith(m, "serviceAccount:")]

  # Both services read the topology's names (BQBR_TOPIC_*, BQBR_SUBSCRIPTION_*).
  topology_env = merge(
    { for name, role in local.contract.topic_env : name => local.contract.topics[role] },
    { for name, role in local.contract.subscription_env : name => local.contract.subscriptions[role].name },
  )

  # PORT is set by Cloud Run. The names are checked against the services' env codecs by test/terraform.
  dispatcher_env = {
    GOOGLE_CLOUD_PROJECT       = var.project_id
    BQBR_INTAKE                = "push"
    BQBR_ENSURE_TOPOLOGY       = "false"
    BQBR_STAGING_URI           = "gs://${google_storage_bucket.staging.name}/${var.staging_prefix}"
    BQBR_PUSH_AUDIENCE         = local.push_audience.dispatcher
    BQBR_PUSH_SERVICE_ACCOUNTS = google_service_account.push.email
    BQBR_API_AUDIENCE          = join(",", local.api_audiences)
    BQBR_API_PRINCIPALS        = join(",", local.api_principals)
    BQBR_S3_ENDPOINTS          = join(",", var.s3_endpoints)
    BQBR_AZURE_ACCOUNT_URLS    = join(",", var.azure_account_urls)
  }

  worker_env = {
    GOOGLE_CLOUD_PROJECT       = var.project_id
    BQBR_INTAKE                = "push"
    BQBR_ENSURE_TOPOLOGY       = "false"
    BQBR_PUSH_AUDIENCE         = local.push_audience.worker
    BQBR_PUSH_SERVICE_ACCOUNTS = google_service_account.push.email
    BQBR_S3_ENDPOINTS          = join(",", var.s3_endpoints)
    BQBR_AZURE_ACCOUNT_URLS    = join(",", var.azure_account_urls)
  }

  service_uri = { for name, service in google_cloud_run_v2_service.service : name => service.uri }

  apis = ["run", "pubsub", "firestore", "cloudscheduler", "secretmanager", "bigquery", "iam", "storage"]
}

data "google_project" "project" {
  project_id = var.project_id
}

resource "google_project_service" "api" {
  for_each           = toset(local.apis)
  project            = var.project_id
  service            = "${each.value}.googleapis.com"
  disable_on_destroy = false
}

resource "google_service_account" "dispatcher" {
  project      = var.project_id
  account_id   = "bqbr-dispatcher"
  display_name = "bqbr dispatcher"
}

resource "google_service_account" "worker" {
  project      = var.project_id
  account_id   = "bqbr-worker"
  display_name = "bqbr worker"
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "bqbr-push"
  display_name = "bqbr Pub/Sub push (OIDC tokens to the services)"
}
