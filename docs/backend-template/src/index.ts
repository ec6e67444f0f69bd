// The library face of @k8s-kms/example.
export { ExampleKmsProvider } from './provider.js';
export { EXAMPLE_OPTIONS, parseExampleConfig } from './config.js';
export type { ExampleConfig } from './config.js';
export { fromExampleError } from './errors.js';
