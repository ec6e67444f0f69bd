import { afterAll, beforeAll } from '@jest/globals';
import { createLogger } from '@k8s-kms/core';
import { type RawValues } from '@k8s-kms/core/kit';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import { parseVaultConfig } from '../src/config.js';
import { createVaultProvider } from '../src/create.js';
import { OpenBao, OPENBAO_ROOT_TOKEN } from './support/openbao.js';

let bao: OpenBao;
beforeAll(async () => {
  bao = await OpenBao.start();
});
afterAll(async () => bao.dispose());

const transit = (key: string, extra: RawValues = {}) =>
  createVaultProvider(
    parseVaultConfig({ address: bao.address, 'key-name': key, token: OPENBAO_ROOT_TOKEN, ...extra }),
    createLogger({ level: 'silent', name: 'test' }),
  ).transit;

// An AEAD key binds the AAD as transit's associated_data; an RSA key takes none, so the provider
// binds it by digest. Both run the whole suite.
for (const [type, aad] of [
  ['aes256-gcm96', 'native'],
  ['rsa-2048', 'digest'],
] as const) {
  const key = `conformance-${type}`;
  let created = false;
  let others = 0;
  describeConformance({
    name: `vault-transit ${type} (OpenBao)`,
    features: { aad },
    async createProvider() {
      if (!created) {
        await bao.transitKey(key, 'transit', { type });
        await bao.must('POST', `transit/keys/${key}/config`, { deletion_allowed: true });
        created = true;
      }
      return transit(key);
    },
    async rotate() {
      await bao.must('POST', `transit/keys/${key}/rotate`);
    },
    outage: () => bao.seal(),
    recover: () => bao.unseal(),
    async foreignKey() {
      const other = `${key}-other-${++others}`;
      await bao.transitKey(other, 'transit', { type });
      return { writer: transit(other), reader: transit(key, { 'decrypt-key-name': [other] }) };
    },
    async recreateKey() {
      await bao.must('DELETE', `transit/keys/${key}`);
      await bao.transitKey(key, 'transit', { type });
      await bao.must('POST', `transit/keys/${key}/config`, { deletion_allowed: true });
    },
    secrets: () => [OPENBAO_ROOT_TOKEN],
  });
}
