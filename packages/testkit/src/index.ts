// The public face of @k8s-kms/testkit, usable outside jest. The conformance suite, which needs
// jest's globals, is its own entry point: @k8s-kms/testkit/conformance.
export { InstrumentedProvider } from './instrumented-provider.js';
export type { Operation } from './instrumented-provider.js';
export { startPlugin, codeOf, LogCapture, waitFor } from './harness.js';
export type { RunningPlugin } from './harness.js';
export { RawGrpcClient } from './raw-grpc.js';
export type { RawRequest, RawAnswer } from './raw-grpc.js';
