// Process entry for running the CLI from source (tests, development); bin/switchyard.js runs the build.
import { main } from './main.js';

await main();
