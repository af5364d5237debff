# Least privilege per account: the table in ../../README.md says why each grant is there.

locals {
  service_members = {
    dispatcher = "serviceAccount:${google_service_account.dispatcher.email}"
    worker     = "serviceAccount:${google_service_account.worker.email}"
  }
  pubsub_agent = "serviceAccount:service-${data.google_project.project.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  project_grants = merge(
    # Planning lists datasets and tables; queries of INFORMATION_SCHEMA run as jobs in bqbr's project.
    { for p in distinct(concat(var.source_project_ids, var.restore_project_ids)) : "dispatcher-metadata-${p}" => { project = p, role = "roles/bigquery.metadataViewer", member = local.service_members.dispatcher } },
    { "dispatcher-jobs" = { project = var.project_id, role = "roles/bigquery.jobUser", member = local.service_members.dispatcher } },
    # Extract jobs read the tables and run in the source project.
    { for p in var.source_project_ids : "worker-data-${p}" => { project = p, role = "roles/bigquery.dataViewer", member = local.service_members.worker } },
    { for p in distinct(concat(var.source_project_ids, var.restore_project_ids, [var.project_id])) : "worker-jobs-${p}" => { project = p, role = "roles/bigquery.jobUser", member = local.service_members.worker } },
    # Load jobs create and write the restored tables.
    { for p in var.restore_project_ids : "worker-edit-${p}" => { project = p, role = "roles/bigquery.dataEditor", member = local.service_members.worker } },
    # Firestore state (operations, tasks, backups).
    { for s, m in local.service_members : "${s}-firestore" => { project = var.project_id, role = "roles/datastore.user", member = m } },
  )

  bucket_grants = merge(
    { for b in var.backup_bucket_names : "worker-${b}" => { bucket = b, role = "roles/storage.objectAdmin", member = local.service_members.worker } },
    # Listing backups and admitting restores reads manifests.
    { for b in var.backup_bucket_names : "dispatcher-${b}" => { bucket = b, role = "roles/storage.objectViewer", member = local.service_members.dispatcher } },
    { "worker-staging" = { bucket = google_storage_bucket.staging.name, role = "roles/storage.objectAdmin", member = local.service_members.worker } },
  )

  # Who publishes where (services/dispatcher, services/worker): pushes need no subscriber role.
  topic_grants = {
    "dispatcher-tasks"         = { topic = "tasks", member = local.service_members.dispatcher }
    "dispatcher-notifications" = { topic = "notifications", member = local.service_members.dispatcher }
    "worker-tasks"             = { topic = "tasks", member = local.service_members.worker }
    "worker-events"            = { topic = "events", member = local.service_members.worker }
    # Dead-lettering: Pub/Sub's service agent forwards undeliverable messages.
    "pubsub-agent-dead-letter" = { topic = "deadLetter", member = local.pubsub_agent }
  }

  secret_grants = merge([
    for name, secret in var.credential_secrets : {
      for s, m in local.service_members : "${s}-${name}" => { secret = secret, member = m }
    }
  ]...)
}

resource "google_project_iam_member" "grant" {
  for_each = local.project_grants
  project  = each.value.project
  role     = each.value.role
  member   = each.value.member
}

resource "google_storage_bucket_iam_member" "grant" {
  for_each = local.bucket_grants
  bucket   = each.value.bucket
  role     = each.value.role
  member   = each.value.member
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_grants
  project  = var.project_id
  topic    = google_pubsub_topic.topic[each.value.topic].name
  role     = "roles/pubsub.publisher"
  member   = each.value.member
}

# The service agent acknowledges what it forwards to the dead-letter topic.
resource "google_pubsub_subscription_iam_member" "dead_lettering" {
  for_each     = { for role, s in local.contract.subscriptions : role => s if s.dead_letter }
  project      = var.project_id
  subscription = google_pubsub_subscription.subscription[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Projects created before 8 April 2021 need this for the agent to mint the push account's OIDC tokens.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_cloud_run_v2_service_iam_member" "push" {
  for_each = google_cloud_run_v2_service.service
  project  = var.project_id
  location = var.region
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

resource "google_cloud_run_v2_service_iam_member" "api" {
  for_each = toset(var.api_invokers)
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.service["dispatcher"].name
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_secret_manager_secret_iam_member" "credentials" {
  for_each  = local.secret_grants
  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}
