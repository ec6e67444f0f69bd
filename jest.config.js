// One jest config for every package: TypeScript through ts-jest as native ESM
// (run with node --experimental-vm-modules; see scripts/test.sh).
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // Tests run on sources: one copy of each package in the module graph, so core's error
    // classes are the same objects for a backend, the testkit and core itself. By pattern, so a
    // new package needs no entry here: @k8s-kms/<pkg> is its src/index.ts, @k8s-kms/testkit/<x>
    // its src/<x>.ts (the entry points of its package.json exports).
    '^@k8s-kms/([a-z0-9-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^@k8s-kms/([a-z0-9-]+)/([a-z0-9-]+)$': '<rootDir>/packages/$1/src/$2.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.base.json' }] },
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
