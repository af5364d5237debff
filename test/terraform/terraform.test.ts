// infra/terraform checked without terraform (it cannot be downloaded here): the HCL parsed with
// @cdktf/hcl2json, every resource against the Google provider's schema (@cdktf/provider-google), and the
// module against the code (topics, subscriptions, indexes, env variables).
import { FIRESTORE_INDEXES } from '@bqbr/shared';
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildContract, CONTRACT_PATH, contractText, serviceEnv, type Contract } from './contract.js';
import {
  checkEnv,
  checkWiring,
  diffJson,
  MODULE_DIR,
  moduleView,
  parseTerraform,
  type ModuleView,
  type ServiceEnv,
} from './module-checks.js';
import { checkAgainstSchema, loadProviderSchema, parseHcl, type ProviderSchema } from './provider-schema.js';

const FIXTURE = `
resource "google_pubsub_subscription" "typo" {
  name                = "s"
  topic               = "t"
  ack_deadline_secnds = 60
  push_config {
    push_endpoint = "https://example.test/pubsub/requests"
    oidc_tokn {
      service_account_email = "push@example.iam.gserviceaccount.com"
    }
  }
}
resource "google_cloud_run_v2_service" "missing" {
  location = "us-central1"
  template {
    containers {
      dynamic "env" {
        for_each = {}
        content {
          nme = env.key
        }
      }
    }
  }
}
resource "google_pubsub_topik" "unknown" {
  name = "t"
}
`;

describe('infra/terraform', function () {
  let schema: ProviderSchema;
  let files: Map<string, Record<string, unknown>>;
  let module: ModuleView;
  let contract: Contract;

  before(async function () {
    this.timeout(120_000);
    [schema, files] = await Promise.all([loadProviderSchema(), parseTerraform()]);
    module = moduleView([...files].filter(([f]) => f.startsWith('modules/bqbr/')).map(([, hcl]) => hcl));
    contract = JSON.parse(await readFile(CONTRACT_PATH, 'utf8')) as Contract;
  });

  describe('the Google provider schema check', function () {
    it('passes every resource and data source of the module and the example', function () {
      expect(files.size).to.be.greaterThan(5);
      const problems = [...files].flatMap(([file, hcl]) =>
        checkAgainstSchema(schema, hcl).map((p) => `${file}: ${p}`),
      );
      expect(problems).to.deep.equal([]);
    });

    it('reports misspelled attributes and blocks with the nearest name, missing required ones, unknown types', async function () {
      const problems = checkAgainstSchema(schema, await parseHcl('fixture.tf', FIXTURE));
      expect(problems).to.have.members([
        'google_pubsub_subscription.typo.ack_deadline_secnds: not in google provider schema (did you mean ack_deadline_seconds?)',
        'google_pubsub_subscription.typo.push_config.oidc_tokn: not in google provider schema (did you mean oidc_token?)',
        'google_cloud_run_v2_service.missing.template.containers.env.nme: not in google provider schema (did you mean name?)',
        'google_cloud_run_v2_service.missing.template.containers.env.name: required, missing',
        'google_cloud_run_v2_service.missing.template.containers.image: required, missing',
        'google_cloud_run_v2_service.missing.name: required, missing',
        'google_pubsub_topik: not a resource of the google provider',
      ]);
    });
  });

  describe('the module against the code', function () {
    // Read when needed: the services' codecs are imported from their source.
    const services = (): Record<string, ServiceEnv> => serviceEnv();

    it('has the contract the code generates (else: npm run terraform:contract)', async function () {
      expect(diffJson(contract, buildContract())).to.deep.equal([]);
      expect(await readFile(CONTRACT_PATH, 'utf8')).to.equal(contractText());
    });

    it('takes topics, subscriptions, their settings and the Firestore indexes from contract.json', function () {
      expect(checkWiring(module)).to.deep.equal([]);
    });

    it('sets each service only variables it reads, and every one it needs on Cloud Run', function () {
      expect(checkEnv(module, contract, services())).to.deep.equal([]);
    });

    it('pushes to routes the services serve', async function () {
      const routes = {
        dispatcher: await readFile(
          join(MODULE_DIR, '../../../../services/dispatcher/src/dispatcher.ts'),
          'utf8',
        ),
        worker: await readFile(join(MODULE_DIR, '../../../../services/worker/src/http-server.ts'), 'utf8'),
      };
      for (const s of Object.values(contract.subscriptions)) {
        expect(routes[s.service], s.push_path).to.include(`'${s.push_path}'`);
      }
    });

    describe('fails when the code changes and the Terraform does not', function () {
      const codeWith = (change: (c: Contract) => void): Contract => {
        const changed = structuredClone(buildContract());
        change(changed);
        return changed;
      };

      it('a topic renamed', function () {
        const code = codeWith((c) => {
          c.topics.requests = 'bqbr-requests-v2';
        });
        expect(diffJson(contract, code)).to.deep.equal([
          'topics.requests: Terraform has "bqbr-requests", the code "bqbr-requests-v2"',
        ]);
      });

      it('a subscription renamed, or its settings changed', function () {
        const code = codeWith((c) => {
          c.subscriptions.tasks!.name = 'bqbr-tasks-workers';
          c.subscription_settings.max_delivery_attempts = 20;
        });
        expect(diffJson(contract, code)).to.have.lengthOf(2);
      });

      it('a Firestore index added or dropped in the code', function () {
        const [first, ...rest] = FIRESTORE_INDEXES;
        expect(diffJson(contract, buildContract(undefined, rest))).to.have.lengthOf(1);
        const added = [
          ...FIRESTORE_INDEXES,
          { collection: 'backups', fields: [first!.fields[0]!, first!.fields[1]!] },
        ];
        expect(diffJson(contract, buildContract(undefined, added))).to.have.lengthOf(1);
      });

      it('an index dropped from the Terraform, or the module no longer reading contract.json', function () {
        const stale = structuredClone(contract);
        delete (stale.firestore_indexes as Record<string, unknown>)[
          'backups-projectid-asc-snapshotmillis-desc'
        ];
        expect(diffJson(stale, buildContract())[0]).to.match(
          /^firestore_indexes\.backups-projectid-asc-snapshotmillis-desc:/,
        );

        const index = module.resource('google_firestore_index', 'index')!;
        const copy = moduleView([
          {
            locals: [module.locals],
            resource: { google_firestore_index: { index: [{ ...index, for_each: '${var.indexes}' }] } },
          },
        ]);
        expect(checkWiring(copy)).to.include(
          'google_firestore_index.index.for_each: expected ${local.contract.firestore_indexes}, found "${var.indexes}"',
        );
      });

      it('an environment variable renamed in a service', function () {
        const renamed = (env: ServiceEnv): ServiceEnv => ({
          reads: new Set([...env.reads].map((n) => (n === 'BQBR_STAGING_URI' ? 'BQBR_STAGING_FOLDER' : n))),
          required: env.required.map((n) => (n === 'BQBR_STAGING_URI' ? 'BQBR_STAGING_FOLDER' : n)),
        });
        const env = services();
        expect(checkEnv(module, contract, { ...env, dispatcher: renamed(env.dispatcher!) })).to.deep.equal([
          'dispatcher: sets BQBR_STAGING_URI, which it does not read',
          'dispatcher: does not set BQBR_STAGING_FOLDER, which it needs on Cloud Run',
        ]);
      });

      it('a topology variable renamed in the code', function () {
        const code = codeWith((c) => {
          const env = c.topic_env as Record<string, string>;
          env.BQBR_TOPIC_REQUEST = env.BQBR_TOPIC_REQUESTS!;
          delete env.BQBR_TOPIC_REQUESTS;
        });
        expect(diffJson(contract, code)).to.have.lengthOf(2);
      });
    });
  });
});
