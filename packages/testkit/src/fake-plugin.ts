#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { parseOptions, runPluginCli } from '@k8s-kms/core/kit';
import { FAKE_OPTIONS } from './fake-plugin-options.js';
import { FakeMemoryProvider } from './fake-memory-provider.js';
import { InstrumentedProvider } from './instrumented-provider.js';

/**
 * kms-plugin-fake: the shared CLI runner over FakeMemoryProvider, a backend in memory. It exists
 * for core's own CLI tests (flags, exit codes, signals, logs, the socket) and for the binary suite's
 * own test, which must not need an emulator. Never for a real cluster: its keys die with it.
 */

await runPluginCli({
  name: 'kms-plugin-fake',
  version: '0.1.0',
  description: 'Kubernetes KMS plugin over an in-memory fake backend, for tests only.',
  options: FAKE_OPTIONS,
  parseConfig: (values) => parseOptions(FAKE_OPTIONS, values),
  buildProvider(config) {
    const provider = new InstrumentedProvider(new FakeMemoryProvider({ id: config['fake-key-id'], key: randomBytes(32) }));
    provider.latencyMs = config['fake-latency'];
    return provider;
  },
});
