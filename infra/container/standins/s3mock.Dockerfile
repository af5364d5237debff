# Stand-in for adobe/s3mock on machines that cannot pull it (smoke.sh builds it only then): s3rver from npm,
# what `npm run stack -- --s3` runs, on S3Mock's port 9090 with its data in /data.
FROM node:22-bookworm-slim
ARG S3RVER_VERSION
WORKDIR /opt/s3rver
RUN npm install --no-audit --no-fund --omit=dev "s3rver@${S3RVER_VERSION}" && mkdir -p /data
ENV NODE_OPTIONS=--openssl-legacy-provider
CMD ["node", "node_modules/s3rver/bin/s3rver.js", "--address", "0.0.0.0", "--port", "9090", "--directory", "/data"]
