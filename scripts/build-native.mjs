// Builds the optional native addon (binding.gyp) with the node-gyp that npm ships. It needs a C++
// compiler, Node's headers and OpenBLAS (Debian: `apt-get install g++ libopenblas-dev`). A failed
// build is not an error: the package then runs its JS and wasm kernels (see src/kernels/native.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

if (['0', 'false', 'off'].includes((process.env.WEIGHT_PREDICTION_NATIVE ?? '').toLowerCase())) {
  console.warn('weight-prediction: WEIGHT_PREDICTION_NATIVE=0, native addon not built');
  process.exit(0);
}
const gyp = process.env.npm_config_node_gyp;
const [command, args] =
  gyp && existsSync(gyp) ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
if (result.status !== 0) {
  // Leave no half-built addon behind for the loader to trip over.
  rmSync('build', { recursive: true, force: true });
  console.warn(
    'weight-prediction: the native addon did not build (needs g++, Node headers and OpenBLAS: ' +
      '`apt-get install g++ libopenblas-dev`); training uses the JS and wasm kernels instead.',
  );
}
