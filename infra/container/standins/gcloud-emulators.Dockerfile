# Stand-in for gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators on machines that cannot pull it
# (smoke.sh builds it only then): the host's Pub/Sub and Firestore emulators (Google Cloud SDK), a JRE, curl
# for the healthchecks, and a gcloud that runs only `gcloud [beta] emulators pubsub|firestore start`.
FROM bqbr-standin/debian:bookworm
RUN apt-get update -qq \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless curl \
  && rm -rf /var/lib/apt/lists/*
COPY pubsub-emulator /opt/emulators/pubsub-emulator
COPY cloud-firestore-emulator /opt/emulators/cloud-firestore-emulator
COPY gcloud /usr/local/bin/gcloud
