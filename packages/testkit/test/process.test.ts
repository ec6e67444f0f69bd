import { describe, expect, it } from '@jest/globals';
import { startProcess } from '../src/index.js';

describe('the process helper', () => {
  it('fails naming the set-up step when the command is not installed', async () => {
    await expect(
      startProcess({ command: 'no-such-emulator-k8s-kms', args: [], installedBy: 'scripts/setup-test-tools.sh', ready: async () => true }),
    ).rejects.toThrow('cannot start no-such-emulator-k8s-kms: it is not installed (run scripts/setup-test-tools.sh)');
  });

  it('fails with the end of its output, secrets blanked, when the process exits before it is ready', async () => {
    const err = await startProcess({
      command: process.execPath,
      args: ['-e', 'console.log("root token: s.TOPSECRET"); process.exit(3)'],
      installedBy: 'Node.js',
      redact: ['s.TOPSECRET'],
      ready: async () => undefined,
    }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain('exited with 3 before it was ready');
    expect((err as Error).message).toContain('root token: <redacted>');
    expect((err as Error).message).not.toContain('TOPSECRET');
  });

  it('waits for readiness and stops the process by SIGTERM', async () => {
    const { proc, ready } = await startProcess({
      command: process.execPath,
      args: ['-e', 'console.log("up"); process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000)'],
      installedBy: 'Node.js',
      ready: async (p) => (p.output().includes('up') ? 'ready' : undefined),
    });
    expect(ready).toBe('ready');
    expect(await proc.stop()).toBe(0);
    expect(proc.exited).toBe(true);
  });
});
