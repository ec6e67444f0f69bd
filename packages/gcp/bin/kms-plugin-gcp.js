#!/usr/bin/env node
// Thin launcher committed to the repo so npm can link it before dist/ is built.
import '../dist/src/main.js';
