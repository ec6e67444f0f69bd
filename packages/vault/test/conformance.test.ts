import { afterAll, beforeAll } from '@jest/globals';
import { createLogger } from '@k8s-kms/core';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import { OpenBao, OPENBAO_ROOT_TOKEN } from '@k8s-kms/testkit/openbao';
import { createVaultProvider, parseVaultConfig } from '../src/index.js';

let bao: OpenBao;
let key = '';
let n = 0;

beforeAll(async () => {
  bao = await OpenBao.start();
});
afterAll(async () => bao.dispose());

describeConformance({
  name: 'vault-transit (OpenBao)',
  async createProvider() {
    key = `conformance-${++n}`;
    await bao.transitKey(key);
    const config = parseVaultConfig({ address: bao.address, 'key-name': key, token: OPENBAO_ROOT_TOKEN });
    return createVaultProvider(config, createLogger({ level: 'silent', name: 'test' })).transit;
  },
  async rotate() {
    await bao.must('POST', `transit/keys/${key}/rotate`);
  },
  secrets: () => [OPENBAO_ROOT_TOKEN],
});
