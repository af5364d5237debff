output "dispatcher_url" {
  description = "The dispatcher's URL: its HTTP API is under /api/v1 (an ID token for api_audience, from one of api_invokers)."
  value       = google_cloud_run_v2_service.service["dispatcher"].uri
}

output "worker_url" {
  description = "The worker's URL (Pub/Sub pushes only)."
  value       = google_cloud_run_v2_service.service["worker"].uri
}

output "topics" {
  description = "Topic names by role: publish requests to topics.requests; subscribe to topics.notifications for outcomes."
  value       = { for role, t in google_pubsub_topic.topic : role => t.name }
}

output "subscriptions" {
  description = "Subscription names by role."
  value       = { for role, s in google_pubsub_subscription.subscription : role => s.name }
}

output "service_accounts" {
  description = "The accounts this module created."
  value = {
    dispatcher = google_service_account.dispatcher.email
    worker     = google_service_account.worker.email
    push       = google_service_account.push.email
  }
}

output "api_audience" {
  description = "The audience of ID tokens for the HTTP API."
  value       = var.api_audience
}

output "staging_uri" {
  description = "Where extracts for other clouds are staged."
  value       = "gs://${google_storage_bucket.staging.name}/${var.staging_prefix}"
}
