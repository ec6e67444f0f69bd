// The public face of @k8s-kms/testkit, usable outside jest. The suites, which need jest's
// globals, are entry points of their own: @k8s-kms/testkit/conformance and @k8s-kms/testkit/binary.
export { InstrumentedProvider } from './instrumented-provider.js';
export type { Operation } from './instrumented-provider.js';
export { FakeMemoryProvider } from './fake-memory-provider.js';
export { startPlugin, codeOf, kmsErrorOf, LogCapture, waitFor, waitHealthy, leaked } from './harness.js';
export type { RunningPlugin } from './harness.js';
export { startProcess, freePort } from './process.js';
export type { ProcessSpec, RunningProcess } from './process.js';
export { startPluginBinary, runBinary, FAKE_PLUGIN_BIN } from './plugin-binary.js';
export type { RunningPluginBinary, PluginBinaryOptions } from './plugin-binary.js';
export { RawGrpcClient } from './raw-grpc.js';
export type { RawRequest, RawAnswer } from './raw-grpc.js';
export { TcpProxy } from './tcp-proxy.js';
export { CONNECTION_RECORDER, recordedConnections, exerciseUnderRecorder } from './connections.js';
export type { RecordedConnections } from './connections.js';
export { loopbackCertificate } from './loopback-certificate.js';
