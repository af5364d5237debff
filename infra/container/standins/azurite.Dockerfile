# Stand-in for mcr.microsoft.com/azure-storage/azurite on machines that cannot pull it (smoke.sh builds it
# only then): Azurite from npm, as upstream's image carries it, with its commands (azurite-blob, ...) on PATH.
FROM node:22-bookworm-slim
ARG AZURITE_VERSION
RUN npm install --global --no-audit --no-fund "azurite@${AZURITE_VERSION}" && mkdir -p /data
WORKDIR /opt/azurite
CMD ["azurite", "-l", "/data", "--blobHost", "0.0.0.0", "--queueHost", "0.0.0.0", "--tableHost", "0.0.0.0"]
