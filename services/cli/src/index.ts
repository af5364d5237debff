// What other packages may use of the CLI: the dispatcher's HTTP API client and the watch of an operation
// (the local runner's demo drives a backup and a restore with them), and how a command line reports its
// failures. The command line itself is main.ts.
export { ApiClient, ApiError, type Accepted, type OperationInfo, type OperationView } from './api-client.js';
export { consoleOutput, status, type Output } from './commands.js';
export { CliError, UsageError, oneLine, runCommandLine } from './failure.js';
