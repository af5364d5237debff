// Which files a restore's load job reads: exactly the manifest's, by name or (beyond BigQuery's 10,000
// source URIs per job) by wildcards that match nothing else a Cloud Storage table folder may hold.
import { PermanentError, type TableManifest } from '@bqbr/shared';
import { expect } from 'chai';
import type { LandingFolder } from '../src/landing-folder.js';
import { shardNames } from '../src/extracted-files.js';
import { sourceUris } from '../src/restore-load.js';

const FOLDER = 'gs://bucket/backups/20261120_100000/p/sales/orders';
const landing = {
  folderUri: FOLDER,
  uri: (file: { name: string }) => `${FOLDER}/${file.name}`,
} as unknown as LandingFolder;
const manifestOf = (names: readonly string[]): TableManifest =>
  ({
    files: names.map((name) => ({ name, uri: `${FOLDER}/${name}`, bytes: 1 })),
  }) as unknown as TableManifest;

/** BigQuery's reading of a source URI with one `*` (any characters, `/` included). */
const matcher = (uri: string): RegExp => {
  const [before, after] = uri.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${before}.*${after ?? ''}$`);
};

describe('restore load source URIs', function () {
  it('names every manifest file up to 10,000 files', function () {
    const names = shardNames('data-*.avro', 3);
    expect(sourceUris(manifestOf(names), landing)).to.deep.equal(names.map((n) => `${FOLDER}/${n}`));
  });

  it('beyond 10,000 files, matches exactly the manifest files and no other file in the folder', function () {
    const names = shardNames('data-*.json.gz', 12_345);
    const uris = sourceUris(manifestOf(names), landing);
    expect(uris.length).to.be.at.most(108);
    const patterns = uris.map(matcher);
    const matches = (name: string) => patterns.filter((p) => p.test(`${FOLDER}/${name}`)).length;
    expect(names.filter((name) => matches(name) !== 1)).to.deep.equal([]);
    // What an earlier job attempt (or another format) may have left in a Cloud Storage table folder.
    for (const stale of ['data-000000012345.json.gz', 'data-000000099999.json.gz', 'data-000000000001.avro'])
      expect(matches(stale), stale).to.equal(0);
  });

  it('refuses more than 10,000 files that are not one extract series', function () {
    const names = shardNames('data-*.avro', 10_002).filter((name) => name !== 'data-000000000007.avro');
    expect(() => sourceUris(manifestOf(names), landing)).to.throw(PermanentError, /not the series/);
  });
});
