// The package as a user gets it: packs it (`npm pack`, which builds dist/), installs the tarball
// into a new project beside its peer dependency @tensorflow/tfjs, and runs README.md's examples
// there exactly as written (every ```js block of "## Use the optimizers", in order, as one .mjs
// program). Then checks that one copy of TF.js is installed and that the package uses the user's.
//
//   node scripts/check-packed-install.mjs [--readme <file>] [--keep]
//
// --readme reads the examples from another file (to see the check fail on a broken example);
// --keep leaves the temporary project for a look. The native addon is not built here
// (WEIGHT_PREDICTION_NATIVE=0): the examples must run without it, and building it takes minutes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, URL } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const readmeIndex = args.indexOf('--readme');
const readmeFile =
  readmeIndex >= 0 ? resolve(args[readmeIndex + 1] ?? '') : join(root, 'README.md');
const keep = args.includes('--keep');
const SECTION = '## Use the optimizers';

/** The ```js blocks of README's section on the optimizers, joined in order. */
function readmeExamples(markdown) {
  const start = markdown.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`${readmeFile} has no "${SECTION}" section`);
  const next = markdown.indexOf('\n## ', start + SECTION.length + 1);
  const section = markdown.slice(start, next < 0 ? undefined : next);
  const blocks = [...section.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  if (blocks.length === 0) throw new Error(`"${SECTION}" in ${readmeFile} has no \`\`\`js block`);
  return blocks;
}

function run(command, commandArgs, cwd, env = {}) {
  const started = performance.now();
  const result = spawnSync(command, commandArgs, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 2 ** 20,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    throw new Error(
      `\`${command} ${commandArgs.join(' ')}\` failed (exit ${result.status}) in ${cwd}`,
    );
  }
  return { stdout: result.stdout, stderr: result.stderr, seconds };
}

/** Every package.json of `name` under node_modules (any depth): one means one copy. */
function copiesOf(projectDir, name) {
  const found = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const child = join(dir, e.name);
      if (e.name.startsWith('@')) {
        for (const scoped of readdirSync(child, { withFileTypes: true })) {
          if (!scoped.isDirectory()) continue;
          const pkg = join(child, scoped.name);
          if (`${e.name}/${scoped.name}` === name) found.push(pkg);
          walk(join(pkg, 'node_modules'));
        }
      } else {
        if (e.name === name) found.push(child);
        walk(join(child, 'node_modules'));
      }
    }
  };
  walk(join(projectDir, 'node_modules'));
  return found;
}

const examples = readmeExamples(readFileSync(readmeFile, 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'weight-prediction-install-'));
const say = (line) => process.stderr.write(`${line}\n`);
try {
  const packed = run('npm', ['pack', '--json', '--pack-destination', work], root);
  const tarball = join(work, JSON.parse(packed.stdout)[0].filename);
  say(`packed ${tarball} (${packed.seconds} s, build included)`);

  const tfjsVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).peerDependencies[
    '@tensorflow/tfjs'
  ];
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'first-hour', private: true, type: 'module' }, null, 2),
  );
  const installed = run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      tarball,
      `@tensorflow/tfjs@${tfjsVersion}`,
    ],
    project,
    { WEIGHT_PREDICTION_NATIVE: '0' },
  );
  say(`installed it with @tensorflow/tfjs@${tfjsVersion} in ${project} (${installed.seconds} s)`);
  // npm's own advisories are npm's business; the package itself must install without a word.
  const ours = installed.stderr.split('\n').filter((line) => line.includes('weight-prediction:'));
  if (ours.length > 0) throw new Error(`the install printed:\n${ours.join('\n')}`);

  for (const name of ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers']) {
    const copies = copiesOf(project, name);
    if (copies.length !== 1) {
      throw new Error(
        `${copies.length} copies of ${name} installed (expected 1): ${copies.join(', ')}`,
      );
    }
  }

  writeFileSync(join(project, 'readme-examples.mjs'), examples.join('\n'));
  const ran = run(process.execPath, ['readme-examples.mjs'], project);
  say(`README's ${examples.length} examples ran (${ran.seconds} s):\n${ran.stdout.trimEnd()}`);
  if (/already registered|has not yet been initialized/.test(ran.stderr)) {
    throw new Error(`the examples ran, but TF.js warned:\n${ran.stderr}`);
  }

  // The package's tensors and optimizers belong to the user's TF.js: the one this project imports.
  writeFileSync(
    join(project, 'one-tfjs.mjs'),
    `import * as tf from '@tensorflow/tfjs';
import { AdamW } from 'weight-prediction';
// Importing the package leaves the backend to the user: TF.js's own default (cpu in Node).
await tf.ready();
if (tf.getBackend() !== 'cpu') throw new Error('importing weight-prediction changed the backend to ' + tf.getBackend());
const optimizer = new AdamW({ predictionSteps: 1 });
if (!(optimizer instanceof tf.Optimizer)) throw new Error('AdamW is not a tf.Optimizer of the user\\'s TF.js');
const v = tf.variable(tf.ones([3]));
const before = tf.memory().numTensors;
optimizer.minimize(() => v.square().sum());
if (tf.memory().numTensors <= before) throw new Error('the optimizer\\'s state is not in the user\\'s TF.js engine');
console.log('one TF.js: the backend left as TF.js chose it, the optimizer a tf.Optimizer of the user\\'s TF.js, its state in the user\\'s engine');
`,
  );
  say(run(process.execPath, ['one-tfjs.mjs'], project).stdout.trimEnd());
  say('packed install: ok');
} finally {
  if (keep) say(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
