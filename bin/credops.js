#!/usr/bin/env node
// The published entry point runs the compiled CLI (built by `npm run build`, which `npm ci` runs via "prepare").

// The AWS SDK warns on every start under Node 20 that its releases after January 2027 need Node 22.
// That concerns which SDK versions credops ships (the lockfile pins them), not this command; the
// README says so. A user who sets the variable themselves keeps their choice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv);
