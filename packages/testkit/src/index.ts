// The public face of @k8s-kms/testkit.
export { describeConformance } from './conformance.js';
export type { ConformanceTarget } from './conformance.js';
export { InstrumentedProvider } from './instrumented-provider.js';
export type { Operation } from './instrumented-provider.js';
export { startPlugin, codeOf, LogCapture } from './harness.js';
export type { RunningPlugin } from './harness.js';
