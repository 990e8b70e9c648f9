// The credops CLI from source, for tests that run it as a child process:
//   node --import tsx test/github/cli.ts plan --repo ...
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv);
