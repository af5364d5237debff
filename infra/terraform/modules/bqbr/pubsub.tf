# The five topics and the push subscriptions (docs/contracts.md, "Topics"); no subscription on
# notifications: its readers make their own.

resource "google_pubsub_topic" "topic" {
  for_each   = local.contract.topics
  project    = var.project_id
  name       = each.value
  depends_on = [google_project_service.api]
}

resource "google_pubsub_subscription" "subscription" {
  for_each             = local.contract.subscriptions
  project              = var.project_id
  name                 = each.value.name
  topic                = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds = local.contract.subscription_settings.ack_deadline_seconds

  retry_policy {
    minimum_backoff = local.contract.subscription_settings.minimum_backoff
    maximum_backoff = local.contract.subscription_settings.maximum_backoff
  }

  # Dead letters themselves are only retried, never forwarded again.
  dynamic "dead_letter_policy" {
    for_each = each.value.dead_letter ? [1] : []
    content {
      dead_letter_topic     = google_pubsub_topic.topic["deadLetter"].id
      max_delivery_attempts = local.contract.subscription_settings.max_delivery_attempts
    }
  }

  push_config {
    push_endpoint = "${local.service_uri[each.value.service]}${each.value.push_path}"
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.push_audience[each.value.service]
    }
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_pubsub_topic_iam_member.publisher]
}
