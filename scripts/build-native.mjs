// Builds the optional native addon (binding.gyp) with the node-gyp that npm ships. It needs a C++
// compiler, Node's headers and OpenBLAS (Debian: `apt-get install g++ libopenblas-dev`). A failed
// build is not an error: the package then runs its JS and wasm kernels (see src/kernels/native.ts).
// node-gyp's output is kept back and printed only when the build fails: a working install is quiet.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

if (['0', 'false', 'off'].includes((process.env.WEIGHT_PREDICTION_NATIVE ?? '').toLowerCase())) {
  process.exit(0);
}
const gyp = process.env.npm_config_node_gyp;
const [command, args] =
  gyp && existsSync(gyp) ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const result = spawnSync(command, args, {
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
  maxBuffer: 64 * 2 ** 20,
});
if (result.status !== 0) {
  // Leave no half-built addon behind for the loader to trip over.
  rmSync('build', { recursive: true, force: true });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trimEnd();
  if (output !== '') console.warn(output);
  console.warn(
    `weight-prediction: the native addon did not build (${failureReason(result, output)}); ` +
      'training uses the JS and wasm kernels instead. For the faster kernels install g++, make, ' +
      'python3 and OpenBLAS (Debian: `apt-get install g++ make python3 libopenblas-dev`) and run ' +
      '`npm rebuild weight-prediction`.',
  );
}

/** The one-line cause of a failed build, from node-gyp's error lines where they are recognisable. */
function failureReason(result, output) {
  if (result.error) return `${command} could not run: ${result.error.message}`;
  const errors = output.split('\n').filter((line) => /ERR!|error|fatal|\*\*\*/i.test(line));
  const said = (pattern) => errors.some((line) => pattern.test(line));
  if (said(/cblas\.h|openblas/i)) return 'OpenBLAS is missing';
  if (said(/(g\+\+|c\+\+|make)\b.*(not found|ENOENT)/i)) return 'no C++ compiler or make';
  if (said(/find Python/i)) return 'node-gyp found no Python';
  if (said(/headers|network connectivity/i)) return "node-gyp could not get Node's headers";
  // A compiler's or make's own message says more than node-gyp's summary lines.
  const first =
    errors.find((line) => /error:|\*\*\*/.test(line)) ??
    errors.find((line) => !/gyp ERR! (System|command|cwd|node -v|node-gyp -v|not ok)/.test(line));
  return first
    ? first
        .replace(/^gyp ERR! (stack )?/, '')
        .trim()
        .slice(0, 200)
    : `node-gyp exited with ${result.status}`;
}
