// The library face of @k8s-kms/example (the binary's own parts stay in its modules).
export { createExampleKmsProvider } from './create.js';
export type { ExampleKmsOptions } from './create.js';
export { ExampleKmsProvider } from './provider.js';
