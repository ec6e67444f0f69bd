#!/usr/bin/env node
// Thin launcher committed to the repo so npm can link it before dist/ is built.
// The Azure SDKs' logging (AZURE_LOG_LEVEL) writes plain-text lines to stderr among the
// plugin's JSON ones, naming request URLs and identities: it is off before they load.
delete process.env.AZURE_LOG_LEVEL;
await import('../dist/src/main.js');
