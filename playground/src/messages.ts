/** What the page and its training worker say to each other. */
import type { StepRecord } from './race.js';
import type { Backend, RaceSettings } from './settings.js';

/** The page starts one worker per race and terminates it to stop the race. */
export interface ToWorker {
  type: 'start';
  settings: RaceSettings;
  /** The page's folder URL: the wasm binaries and the MNIST subset lie under it. */
  assetBase: string;
}

export type FromWorker =
  | { type: 'backend'; backend: Backend; description: string; fallbacks: string[] }
  | { type: 'records'; records: StepRecord[] }
  | { type: 'done' }
  | { type: 'error'; message: string };
