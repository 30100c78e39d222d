/**
 * The race of a playground URL, run in Node on the same backend: prints each run's records as JSON,
 * so the page's numbers can be checked against Node's (the browser tests do), and the tensor count
 * after each round of steps (it must stay flat: nothing leaks).
 *
 *   npx tsx --tsconfig playground/tsconfig.json playground/reference.ts '?task=beale&backend=cpu&steps=50'
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from 'weight-prediction';
import { loadMnistSubset } from './mnist-subset.js';
import { Race, type StepRecord } from './src/race.js';
import { parseSettings } from './src/settings.js';

const parsed = parseSettings(process.argv[2] ?? '');
if (!parsed.ok) {
  console.error(parsed.errors.join('\n'));
  process.exit(1);
}
const { settings } = parsed;
if (settings.backend === 'webgl') {
  console.error("backend 'webgl' does not exist in Node: use backend=cpu or backend=wasm.");
  process.exit(1);
}
const backend = await selectBackend(settings.backend);
const race = Race.create(settings, settings.task === 'mnist' ? loadMnistSubset() : undefined);
const records: StepRecord[] = [];
const tensorsAfterRound: number[] = [];
while (race.running) {
  records.push(...(await race.next()));
  tensorsAfterRound.push(tf.memory().numTensors);
}
race.dispose();
process.stdout.write(
  `${JSON.stringify({ backend, records, tensorsAfterRound, tensorsAfterDispose: tf.memory().numTensors })}\n`,
);
