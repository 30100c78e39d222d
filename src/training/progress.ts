import cliProgress from 'cli-progress';
import { UserInputError } from '../errors.js';

/**
 * How training reports progress: `bar` (a cli-progress bar on stderr), `lines` (one plain line per
 * update of the display, for logs and CI), `none`, or `auto` (a bar when stderr is a TTY, else lines).
 */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface ProgressDisplay {
  start(totalSteps: number, step: number, epoch: number): void;
  /** `skipped`: updates skipped so far for a non-finite gradient (shown when > 0). */
  update(
    step: number,
    fields: { epoch: number; loss: number; rate: number; skipped?: number },
  ): void;
  /** A line that must stay visible (an epoch's results). */
  log(line: string): void;
  stop(): void;
}

export function checkProgressMode(mode: unknown): ProgressMode {
  if (mode === undefined) return 'auto';
  if (mode === 'auto' || mode === 'bar' || mode === 'lines' || mode === 'none') return mode;
  throw new UserInputError(
    `Invalid progress ${JSON.stringify(mode)}: use 'auto', 'bar', 'lines' or 'none'`,
  );
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
/** The loss, with a warning when updates were skipped (their gradients were not finite). */
const lossText = (loss: number, skipped = 0) =>
  skipped > 0 ? `${fmt(loss)} (${skipped} updates skipped: non-finite gradients)` : fmt(loss);

/** Writes to `stream` (stderr by default, so stdout stays clean for results). */
export function createProgress(
  mode: ProgressMode,
  unit: string,
  stream: NodeJS.WriteStream = process.stderr,
): ProgressDisplay {
  const resolved = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
  if (resolved === 'none') {
    return { start() {}, update() {}, log() {}, stop() {} };
  }
  if (resolved === 'lines') {
    let total = 0;
    let lastPrinted = 0;
    let lastTime = 0;
    return {
      start(totalSteps) {
        total = totalSteps;
        lastTime = Date.now();
      },
      update(step, { epoch, loss, rate, skipped }) {
        // At most one line every 10% of the run or every 5 seconds: readable in a log file.
        const now = Date.now();
        if (step - lastPrinted >= Math.max(1, Math.ceil(total / 10)) || now - lastTime >= 5000) {
          stream.write(
            `step ${step}/${total} epoch ${epoch} loss ${lossText(loss, skipped)} ${Math.round(rate)} ${unit}/s\n`,
          );
          lastPrinted = step;
          lastTime = now;
        }
      },
      log(line) {
        stream.write(line + '\n');
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `{bar} {percentage}% | step {value}/{total} | epoch {epoch} | loss {loss} | {rate} ${unit}/s | eta {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let total = 0;
  let current = 0;
  return {
    start(totalSteps, step, epoch) {
      bar.start(totalSteps, step, { epoch, loss: '-', rate: '-' });
      started = true;
      total = totalSteps;
      current = step;
    },
    update(step, { epoch, loss, rate, skipped }) {
      bar.update(step, { epoch, loss: lossText(loss, skipped), rate: Math.round(rate) });
      current = step;
    },
    log(line) {
      if (started && current >= total) {
        // The last step is done: the bar ends at 100% above the final line, not redrawn below it.
        bar.stop();
        started = false;
      }
      // cli-progress redraws over the current line: print above the bar.
      if (started) stream.write('\r\x1b[K');
      stream.write(line + '\n');
      if (started) bar.render();
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
