import { FakeMemoryProvider, InstrumentedProvider, startPlugin } from '@k8s-kms/testkit';
import type { PluginServerOptions } from '../../src/index.js';

/** A plugin over an instrumented fake backend, on a real socket, with quick retries. */
export async function startFakePlugin(opts: Partial<Omit<PluginServerOptions, 'provider' | 'listenAddr'>> = {}) {
  const fake = new FakeMemoryProvider();
  const provider = new InstrumentedProvider(fake);
  const plugin = await startPlugin(provider, { ...opts, remote: { retryBaseMs: 5, retryMaxMs: 20, ...opts.remote } });
  return { fake, provider, plugin };
}
