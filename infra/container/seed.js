// smoke.sh's data: the demo project (infra/local's demo data) in the local BigQuery, the bucket the backup
// goes to, and the backup request. The emulators' addresses come from the environment (.stack/env's variables).
// Usage: node infra/container/seed.js <bucket> <request.json>
import { closeClients, createClients } from '@bqbr/shared';
import { seedDemoData } from '@bqbr/local/demo-data';
import console from 'node:console';
import { writeFile } from 'node:fs/promises';
import process from 'node:process';

const [bucket, requestFile] = process.argv.slice(2);
if (!bucket || !requestFile) {
  console.error('usage: node infra/container/seed.js <bucket> <request.json>');
  process.exit(1);
}
const projectId = process.env['GOOGLE_CLOUD_PROJECT'] ?? 'bqbr-local';
const clients = createClients(process.env, projectId);
try {
  const [exists] = await clients.storage.bucket(bucket).exists();
  if (!exists) await clients.storage.createBucket(bucket);
  const { tables } = await seedDemoData(clients.bigquery);
  const request = {
    bigQuery: { projectId },
    backupStorage: {
      gcsOptions: { uri: `gs://${bucket}`, exportOptions: { format: 'AVRO', overwrite: true } },
    },
  };
  await writeFile(requestFile, `${JSON.stringify(request, null, 2)}\n`);
  console.log(`seed: ${tables.length} demo tables in project ${projectId}, backups to gs://${bucket}`);
} finally {
  await closeClients(clients);
}
