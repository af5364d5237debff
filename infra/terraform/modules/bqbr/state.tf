# Firestore holds operations, tasks and the backup catalogue; the composite indexes are those the state
# store's queries need (shared/src/state/firestore-indexes.ts).

resource "google_firestore_database" "state" {
  project         = var.project_id
  name            = var.firestore_database
  location_id     = var.firestore_location
  type            = "FIRESTORE_NATIVE"
  deletion_policy = "ABANDON"
  depends_on      = [google_project_service.api]
}

resource "google_firestore_index" "index" {
  for_each    = local.contract.firestore_indexes
  project     = var.project_id
  database    = google_firestore_database.state.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }
}

# Extracts bound for S3, Azure or files wait here; bqbr deletes them, the lifecycle rule catches leftovers.
resource "google_storage_bucket" "staging" {
  project                     = var.project_id
  name                        = var.staging_bucket_name
  location                    = var.bucket_location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  lifecycle_rule {
    condition {
      age            = var.staging_retention_days
      matches_prefix = ["${var.staging_prefix}/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
}

# Each run publishes a new request: no operationId (variables.tf refuses one), so each is a new operation.
resource "google_cloud_scheduler_job" "schedule" {
  for_each  = var.schedules
  project   = var.project_id
  region    = var.region
  name      = "bqbr-${each.key}"
  schedule  = each.value.schedule
  time_zone = each.value.time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topic["requests"].id
    data       = base64encode(each.value.request)
  }

  depends_on = [google_project_service.api]
}
