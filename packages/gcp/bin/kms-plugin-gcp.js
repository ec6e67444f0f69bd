#!/usr/bin/env node
// Thin launcher committed to the repo so npm can link it before dist/ is built.
// The Google SDKs' debug logging (GOOGLE_SDK_NODE_LOGGING) prints requests and answers whole,
// plaintext data keys and access tokens among them, on stderr: it is off before they load.
delete process.env.GOOGLE_SDK_NODE_LOGGING;
await import('../dist/src/main.js');
