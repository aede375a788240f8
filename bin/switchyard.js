#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm start builds it first).
import { main } from '../dist/cli/main.js';

await main();
