# The two services on Cloud Run, invoked only by the push account (and the API's principals): no allUsers.

locals {
  services = {
    dispatcher = {
      image         = var.dispatcher_image
      account       = google_service_account.dispatcher.email
      audiences     = [local.push_audience.dispatcher, var.api_audience]
      env           = local.dispatcher_env
      max_instances = var.dispatcher_max_instances
      memory        = "1Gi"
    }
    worker = {
      image         = var.worker_image
      account       = google_service_account.worker.email
      audiences     = [local.push_audience.worker]
      env           = local.worker_env
      max_instances = var.worker_max_instances
      memory        = "2Gi"
    }
  }
}

resource "google_cloud_run_v2_service" "service" {
  for_each            = local.services
  project             = var.project_id
  name                = "bqbr-${each.key}"
  location            = var.region
  deletion_protection = var.deletion_protection
  # Pub/Sub pushes from outside the VPC; every request still needs an ID token of an invoker.
  ingress          = "INGRESS_TRAFFIC_ALL"
  custom_audiences = each.value.audiences

  template {
    service_account = each.value.account
    # A push is answered within the ack deadline; long BigQuery jobs continue in a later delivery.
    timeout = "300s"

    scaling {
      max_instance_count = each.value.max_instances
    }

    containers {
      image = each.value.image

      resources {
        limits = {
          cpu    = "1"
          memory = each.value.memory
        }
      }

      dynamic "env" {
        for_each = merge(each.value.env, local.topology_env)
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.credential_secrets
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
    }
  }

  depends_on = [google_project_service.api, google_secret_manager_secret_iam_member.credentials]
}
