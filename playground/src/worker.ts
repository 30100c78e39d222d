/// <reference lib="webworker" />
/**
 * The training worker: starts the backend, builds the race and runs it, posting each round of
 * steps to the page. One worker runs one race; the page terminates it to stop early.
 */
import { startBackend } from './backends.js';
import type { FromWorker, ToWorker } from './messages.js';
import { parseMnistSubset, type MnistSubset } from './mnist.js';
import { Race } from './race.js';
import type { RaceSettings } from './settings.js';

declare const self: DedicatedWorkerGlobalScope;

const post = (message: FromWorker): void => self.postMessage(message);

async function loadMnist(assetBase: string): Promise<MnistSubset> {
  const url = new URL('data/mnist-subset.bin', assetBase).href;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
  return parseMnistSubset(await response.arrayBuffer());
}

async function run(settings: RaceSettings, assetBase: string): Promise<void> {
  const choice = await startBackend(settings.backend, new URL('wasm/', assetBase).href);
  post({ type: 'backend', ...choice });
  const mnist = settings.task === 'mnist' ? await loadMnist(assetBase) : undefined;
  const race = Race.create(settings, mnist);
  try {
    while (race.running) {
      post({ type: 'records', records: await race.next() });
      // Yield between rounds so that postMessage traffic flows while training.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    race.dispose();
  }
  post({ type: 'done' });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const { settings, assetBase } = event.data;
  run(settings, assetBase).catch((e: unknown) =>
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
  );
};
