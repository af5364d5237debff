#!/usr/bin/env bash
# Container smoke test (README.md, "Containers"): builds the service image (services/Dockerfile), checks it
# (non-root, production dependencies only, PORT, SIGTERM), runs the dispatcher and a worker from it against
# the local stack on this machine until one backup ends SUCCEEDED, then does the same with docker-compose.yml.
# Stops every container and process it started, also on failure.
#   npm run smoke:container                  (BQBR_SMOKE_COMPOSE=0: skip the docker-compose part)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
here="$repo/infra/container"

started_all=$SECONDS
phase_name=''
phase_started=$SECONDS
phase() {
  [[ -n "$phase_name" ]] && echo "smoke: ${phase_name}: $((SECONDS - phase_started)) s"
  phase_name="$1"
  phase_started=$SECONDS
  [[ -n "$phase_name" ]] && echo "smoke: == ${phase_name}"
  return 0
}
fail() {
  echo "smoke: FAILED: $*" >&2
  exit 1
}

# --- the engine ---------------------------------------------------------------------------------------------
command -v docker >/dev/null 2>&1 || fail "no container engine: install Docker (Debian: apt-get install docker.io docker-compose) and start it"
docker info >/dev/null 2>&1 || fail "docker cannot reach a daemon (docker info fails): start dockerd, or check the permissions of its socket"
# Without buildx the client's default builder (BuildKit) is missing: use the classic one.
if [[ -z "${DOCKER_BUILDKIT:-}" ]] && ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  compose=()
fi
node_version="$(node --version)"
[[ "$node_version" == v22.* ]] || fail "node $node_version on PATH: the smoke test (and the local stack) needs Node 22 (.nvmrc)"

work="$(mktemp -d "${TMPDIR:-/tmp}/bqbr-smoke-XXXXXX")"
containers=()
stack_pid=''
compose_project=''
cleanup() {
  local code=$?
  set +e
  for id in "${containers[@]}"; do docker rm -f "$id" >/dev/null 2>&1; done
  if [[ -n "$compose_project" ]]; then
    (cd "$repo" && "${compose[@]}" -p "$compose_project" down -v --remove-orphans >"$work/compose-down.log" 2>&1)
  fi
  if [[ -n "$stack_pid" ]] && kill -0 "$stack_pid" 2>/dev/null; then
    kill -TERM "$stack_pid" && wait "$stack_pid" 2>/dev/null
  fi
  if ((code != 0)); then
    echo "smoke: logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# --- base images ----------------------------------------------------------------------------------------------
# The Dockerfiles use the real upstream images. Where none can be pulled (no registry reachable), local
# stand-ins are built under the same names from a debootstrapped Debian bookworm: infra/container/standins/.
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
pull_or_missing() {
  have_image "$1" && return 0
  timeout 60 docker pull -q "$1" >/dev/null 2>&1 && return 0
  echo "smoke: $1 cannot be pulled here: building a local stand-in (infra/container/standins/)"
  return 1
}
debian_mirror() {
  local uri
  uri="$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
    grep -v security | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' |
    awk '{print $1; exit}')"
  echo "${uri:-http://deb.debian.org/debian}"
}
ensure_debian_standin() {
  have_image bqbr-standin/debian:bookworm && return 0
  command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is needed to make a base image here (apt-get install debootstrap)"
  local mirror
  mirror="$(debian_mirror)"
  echo "smoke: debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    fail "debootstrap failed: $work/debootstrap.log"
  tar -C "$work/rootfs" -c . | docker import - bqbr-standin/debian:bookworm >/dev/null
  rm -rf "$work/rootfs"
}
build_standin() { # <tag> <dockerfile> <context>
  docker build -q -f "$2" -t "$1" "$3" >"$work/build-$(basename "$2").log" 2>&1 ||
    fail "building the stand-in $1 failed: $work/build-$(basename "$2").log"
}

phase 'base images'
if ! pull_or_missing node:22-bookworm-slim; then
  ensure_debian_standin
  ctx="$work/ctx-node"
  mkdir -p "$ctx"
  cp "$(command -v node)" "$ctx/node"
  cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$ctx/npm"
  cat /etc/ssl/certs/ca-certificates.crt /usr/local/share/ca-certificates/*.crt >"$ctx/ca-certificates.crt" 2>/dev/null || true
  build_standin node:22-bookworm-slim "$here/standins/node.Dockerfile" "$ctx"
fi

# --- the service images ---------------------------------------------------------------------------------------
phase 'build (tsc -b on the host, for the stack and the CLI)'
npx tsc -b >"$work/tsc.log" 2>&1 || fail "tsc -b failed: $work/tsc.log"

phase 'build images'
for service in dispatcher worker; do
  docker build -f services/Dockerfile --build-arg SERVICE="$service" -t "bqbr-$service:local" . \
    >"$work/build-$service.log" 2>&1 || fail "docker build ($service) failed: $work/build-$service.log"
  echo "smoke: bqbr-$service:local $(docker image inspect -f '{{.Size}}' "bqbr-$service:local" | awk '{printf "%.0f MB", $1/1e6}')"
done

phase 'image checks'
# Top-level packages that must not be in a production image: dev-only ones of the lock file, and the
# local-only workspaces and tools.
forbidden="$(node -e '
  const lock = require("./package-lock.json");
  const dev = Object.entries(lock.packages)
    .filter(([p, v]) => v.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(p))
    .map(([p]) => p.slice("node_modules/".length));
  console.log([...dev, "@duckdb", "@bqbr/emulators", "@bqbr/local", "@bqbr/cli", "mocha", "typescript", "tsx"].join("\n"));
')"
for service in dispatcher worker; do
  image="bqbr-$service:local"
  uid="$(docker run --rm "$image" id -u)"
  [[ "$uid" != 0 ]] || fail "$image runs as root"
  present="$(docker run --rm "$image" sh -c 'cd node_modules && ls -d * @*/* @*' 2>/dev/null)"
  bad="$(comm -12 <(sort -u <<<"$forbidden") <(sort -u <<<"$present") | tr '\n' ' ')"
  [[ -z "$bad" ]] || fail "$image carries development packages: $bad"
  echo "smoke: $image: uid $uid, $(wc -l <<<"$present") packages in node_modules, none of the $(wc -l <<<"$forbidden") development ones"
done

# --- against the local stack on the host ----------------------------------------------------------------------
phase 'local stack (host)'
node infra/emulators/dist/stack/main.js --pubsub-port 0 --firestore-port 0 --storage-port 0 --bigquery-port 0 \
  --state-dir "$work/stack" >"$work/stack.log" 2>&1 &
stack_pid=$!
for _ in $(seq 120); do
  [[ -s "$work/stack/env" ]] && break
  kill -0 "$stack_pid" 2>/dev/null || fail "the local stack did not start: $(tail -5 "$work/stack.log")"
  sleep 0.5
done
[[ -s "$work/stack/env" ]] || fail "the local stack did not start within 60 s: $work/stack.log"
set -a
# shellcheck disable=SC1091
. "$work/stack/env"
set +a

run_service() { # <service> <port>: prints the container id
  docker run -d --network host \
    --env-file <(env | grep -E '^(GOOGLE_CLOUD_PROJECT|METADATA_SERVER_DETECTION|[A-Z]+_EMULATOR_HOST)=') \
    -e BQBR_INTAKE=pull -e BQBR_FILE_ROOTS=/tmp -e PORT="$2" -e LOG_LEVEL=info \
    "bqbr-$1:local"
}
wait_healthy() { # <name> <url> <container id>
  for _ in $(seq 120); do
    curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
    [[ "$(docker inspect -f '{{.State.Running}}' "$3")" == true ]] ||
      fail "$1 exited while starting: $(docker logs --tail 20 "$3" 2>&1)"
    sleep 0.5
  done
  fail "$1 did not answer $2 within 60 s: $(docker logs --tail 20 "$3" 2>&1)"
}

phase 'dispatcher and worker containers'
dispatcher_port="$(free_port)"
worker_port="$(free_port)"
dispatcher_id="$(run_service dispatcher "$dispatcher_port")"
containers+=("$dispatcher_id")
wait_healthy dispatcher "http://127.0.0.1:$dispatcher_port/healthz" "$dispatcher_id"
worker_id="$(run_service worker "$worker_port")"
containers+=("$worker_id")
wait_healthy worker "http://127.0.0.1:$worker_port/healthz" "$worker_id"
echo "smoke: dispatcher on PORT=$dispatcher_port, worker on PORT=$worker_port (healthz answered on both)"

backup_once() { # <api url> <label>: seeds the demo data, one backup, --watch until it ends
  node infra/container/seed.js "bqbr-smoke-backups" "$work/backup-$2.json"
  node services/cli/dist/main.js backup "$work/backup-$2.json" --watch --api "$1" >"$work/backup-$2.log" 2>&1 ||
    fail "the backup ($2) did not succeed: $(tail -20 "$work/backup-$2.log")"
  tail -3 "$work/backup-$2.log"
  grep -q SUCCEEDED "$work/backup-$2.log" || fail "the backup ($2) did not report SUCCEEDED: $work/backup-$2.log"
}

phase 'backup through the containers'
backup_once "http://127.0.0.1:$dispatcher_port" host-stack

phase 'SIGTERM (docker stop)'
for pair in "dispatcher:$dispatcher_id" "worker:$worker_id"; do
  name="${pair%%:*}"
  id="${pair#*:}"
  docker stop -t 30 "$id" >/dev/null
  code="$(docker inspect -f '{{.State.ExitCode}}' "$id")"
  docker logs "$id" >"$work/$name.log" 2>&1
  grep -q 'signal received: shutting down' "$work/$name.log" || fail "$name logged no graceful shutdown on SIGTERM"
  [[ "$code" == 0 ]] || fail "$name exited with $code after SIGTERM (137: killed at the end of the grace time)"
  echo "smoke: $name stopped gracefully on SIGTERM, exit code 0"
done
for id in "${containers[@]}"; do docker rm -f "$id" >/dev/null; done
containers=()
kill -TERM "$stack_pid" && wait "$stack_pid" || true
stack_pid=''

# --- docker-compose.yml ---------------------------------------------------------------------------------------
if [[ "${BQBR_SMOKE_COMPOSE:-1}" == 0 ]]; then
  echo "smoke: docker-compose part skipped (BQBR_SMOKE_COMPOSE=0)"
elif ((${#compose[@]} == 0)); then
  fail "neither docker compose nor docker-compose is installed (BQBR_SMOKE_COMPOSE=0 skips this part)"
else
  phase 'compose images'
  # Google's emulators image: the stand-in carries the host's Pub/Sub and Firestore emulators (Google Cloud
  # SDK) and a gcloud that starts them; S3Mock and Azurite: s3rver and Azurite from npm (standins/).
  if ! pull_or_missing gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators; then
    ensure_debian_standin
    sdk="$(dirname "$(readlink -f "$(command -v gcloud)")")/.."
    [[ -d "$sdk/platform/pubsub-emulator" && -d "$sdk/platform/cloud-firestore-emulator" ]] ||
      fail "the Google Cloud SDK's Pub/Sub and Firestore emulators are needed for the stand-in (not in $sdk/platform)"
    ctx="$work/ctx-gcloud"
    mkdir -p "$ctx"
    cp -a "$sdk/platform/pubsub-emulator" "$sdk/platform/cloud-firestore-emulator" "$here/standins/gcloud" "$ctx/"
    build_standin gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators "$here/standins/gcloud-emulators.Dockerfile" "$ctx"
  fi
  lock_version() { node -p "require('./package-lock.json').packages['node_modules/$1'].version"; }
  if ! pull_or_missing adobe/s3mock; then
    docker build -q -f "$here/standins/s3mock.Dockerfile" --build-arg S3RVER_VERSION="$(lock_version s3rver)" \
      -t adobe/s3mock "$here/standins" >"$work/build-s3mock.log" 2>&1 || fail "s3mock stand-in: $work/build-s3mock.log"
  fi
  if ! pull_or_missing mcr.microsoft.com/azure-storage/azurite; then
    docker build -q -f "$here/standins/azurite.Dockerfile" --build-arg AZURITE_VERSION="$(lock_version azurite)" \
      -t mcr.microsoft.com/azure-storage/azurite "$here/standins" >"$work/build-azurite.log" 2>&1 ||
      fail "azurite stand-in: $work/build-azurite.log"
  fi

  phase 'docker-compose up'
  compose_project="bqbr-smoke-$$"
  # Free host ports for every published port (the defaults are npm run stack's).
  for var in BQBR_PUBSUB_PORT BQBR_FIRESTORE_PORT BQBR_STORAGE_PORT BQBR_BIGQUERY_PORT BQBR_S3_PORT \
    BQBR_AZURE_PORT BQBR_DISPATCHER_PORT BQBR_WORKER_PORT; do
    export "$var=$(free_port)"
  done
  "${compose[@]}" -p "$compose_project" up -d >"$work/compose-up.log" 2>&1 ||
    fail "docker-compose up failed: $(tail -20 "$work/compose-up.log")"
  for _ in $(seq 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$BQBR_WORKER_PORT/healthz" 2>/dev/null && break
    sleep 1
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$BQBR_WORKER_PORT/healthz" ||
    fail "the compose worker did not answer: $("${compose[@]}" -p "$compose_project" ps 2>&1)"

  phase 'backup through docker-compose'
  export GOOGLE_CLOUD_PROJECT=bqbr-local PUBSUB_EMULATOR_HOST="127.0.0.1:$BQBR_PUBSUB_PORT" \
    FIRESTORE_EMULATOR_HOST="127.0.0.1:$BQBR_FIRESTORE_PORT" STORAGE_EMULATOR_HOST="http://127.0.0.1:$BQBR_STORAGE_PORT" \
    BIGQUERY_EMULATOR_HOST="http://127.0.0.1:$BQBR_BIGQUERY_PORT"
  backup_once "http://127.0.0.1:$BQBR_DISPATCHER_PORT" compose

  phase 'docker-compose down'
  "${compose[@]}" -p "$compose_project" down -v --remove-orphans >"$work/compose-down.log" 2>&1 ||
    fail "docker-compose down failed: $work/compose-down.log"
  compose_project=''
fi

phase ''
echo "container smoke: PASSED in $((SECONDS - started_all)) s"
