// One jest config for every package: TypeScript through ts-jest as native ESM
// (run with node --experimental-vm-modules; see scripts/test.sh).
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // Tests run on sources: one copy of each package in the module graph, so core's
    // error classes are the same objects for a backend, the testkit and core itself.
    '^@k8s-kms/(core|testkit|local|aws|vault)$': '<rootDir>/packages/$1/src/index.ts',
    '^@k8s-kms/testkit/conformance$': '<rootDir>/packages/testkit/src/conformance.ts',
    '^@k8s-kms/testkit/openbao$': '<rootDir>/packages/testkit/src/openbao.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.base.json' }] },
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
