/**
 * The playground page: the settings form (mirrored in the URL), one training worker per race, and
 * the live drawing of what it reports.
 */
import { OPTIMIZER_NAMES } from 'weight-prediction';
import { drawCurves, drawMap, renderContours, RUN_COLORS, type Trajectory } from './charts.js';
import type { FromWorker, ToWorker } from './messages.js';
import { EVAL_EVERY, type StepRecord } from './race.js';
import {
  BACKENDS,
  DEFAULT_LEARNING_RATE,
  defaultSettings,
  FUNCTION_TASKS,
  MAX_RUNS,
  parseSettings,
  runLabel,
  settingsToQuery,
  TASKS,
  type RaceSettings,
  type RunSettings,
} from './settings.js';
import { SURFACES } from './surfaces.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const form = $<HTMLFormElement>('settings');
const taskSelect = $<HTMLSelectElement>('task');
const backendSelect = $<HTMLSelectElement>('backend');
const seedInput = $<HTMLInputElement>('seed');
const stepsInput = $<HTMLInputElement>('steps');
const batchInput = $<HTMLInputElement>('batch');
const runsBody = $<HTMLTableElement>('runs').tBodies[0] as HTMLTableSectionElement;
const resultsBody = $<HTMLTableElement>('results').tBodies[0] as HTMLTableSectionElement;
const errorsBox = $('errors');
const statusLine = $('status');
const startButton = $<HTMLButtonElement>('start');
const stopButton = $<HTMLButtonElement>('stop');
const shareLink = $<HTMLAnchorElement>('share');

const fillSelect = (select: HTMLSelectElement, options: readonly string[]): void => {
  select.replaceChildren(...options.map((o) => new Option(o, o)));
};
fillSelect(taskSelect, TASKS);
fillSelect(backendSelect, BACKENDS);

// ---- the form ↔ settings ----

function addRunRow(run: RunSettings): void {
  const row = runsBody.insertRow();
  const optimizer = document.createElement('select');
  fillSelect(optimizer, OPTIMIZER_NAMES);
  optimizer.value = run.optimizer;
  optimizer.name = 'optimizer';
  const number = (name: string, value: number, step: string): HTMLInputElement => {
    const input = document.createElement('input');
    input.type = 'number';
    input.name = name;
    input.step = step;
    input.value = String(value);
    return input;
  };
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = 'Remove';
  remove.addEventListener('click', () => {
    row.remove();
    refreshRunRows();
  });
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  for (const element of [
    swatch,
    optimizer,
    number('s', run.predictionSteps, '1'),
    number('lr', run.learningRate, 'any'),
    number('wd', run.weightDecay, 'any'),
    remove,
  ]) {
    row.insertCell().append(element);
  }
  refreshRunRows();
}

function refreshRunRows(): void {
  [...runsBody.rows].forEach((row, i) => {
    (row.querySelector('.swatch') as HTMLElement).style.background = RUN_COLORS[i] ?? '#000';
  });
  $<HTMLButtonElement>('add-run').disabled = runsBody.rows.length >= MAX_RUNS;
}

function showSettings(settings: RaceSettings): void {
  taskSelect.value = settings.task;
  backendSelect.value = settings.backend;
  seedInput.value = String(settings.seed);
  stepsInput.value = String(settings.steps);
  batchInput.value = String(settings.batchSize);
  runsBody.replaceChildren();
  settings.runs.forEach(addRunRow);
  $('batch-label').hidden = settings.task !== 'mnist';
}

/** The form as a URL query; parseSettings then checks it exactly as it checks a shared link. */
function formQuery(): string {
  const params: string[] = [
    `task=${encodeURIComponent(taskSelect.value)}`,
    `backend=${encodeURIComponent(backendSelect.value)}`,
    `seed=${encodeURIComponent(seedInput.value)}`,
    `steps=${encodeURIComponent(stepsInput.value)}`,
  ];
  if (taskSelect.value === 'mnist') params.push(`batch=${encodeURIComponent(batchInput.value)}`);
  for (const row of runsBody.rows) {
    const field = (name: string): string =>
      (row.querySelector(`[name="${name}"]`) as HTMLInputElement).value.trim();
    const run = `${field('optimizer')},s=${field('s')},lr=${field('lr')},wd=${field('wd')}`;
    params.push(`run=${encodeURIComponent(run).replace(/%2C/g, ',').replace(/%3D/g, '=')}`);
  }
  return `?${params.join('&')}`;
}

function showErrors(errors: string[], heading = 'These settings cannot run:'): void {
  errorsBox.hidden = errors.length === 0;
  const list = document.createElement('ul');
  list.append(
    ...errors.map((e) => {
      const item = document.createElement('li');
      item.textContent = e;
      return item;
    }),
  );
  const title = document.createElement('strong');
  title.textContent = heading;
  errorsBox.replaceChildren(title, list);
}

function setStatus(state: 'idle' | 'running' | 'done' | 'error' | 'stopped', text: string): void {
  statusLine.dataset['state'] = state;
  statusLine.textContent = text;
}

taskSelect.addEventListener('change', () => {
  $('batch-label').hidden = taskSelect.value !== 'mnist';
  // A learning rate that suits the new task, for runs still on the old task's default.
  for (const row of runsBody.rows) {
    const lr = row.querySelector('[name="lr"]') as HTMLInputElement;
    if (Object.values(DEFAULT_LEARNING_RATE).map(String).includes(lr.value)) {
      lr.value = String(DEFAULT_LEARNING_RATE[taskSelect.value as RaceSettings['task']]);
    }
  }
});
$('add-run').addEventListener('click', () => {
  const last = defaultSettings().runs[0] as RunSettings;
  addRunRow({
    ...last,
    learningRate: DEFAULT_LEARNING_RATE[taskSelect.value as RaceSettings['task']],
  });
});

// ---- the race ----

interface RunView {
  settings: RunSettings;
  color: string;
  records: StepRecord[];
  thetas: [number, number][];
  thetaHats: [number, number][];
  ms: number[];
  error?: string;
  cells: Record<'step' | 'loss' | 'detail' | 'time' | 'cost', HTMLTableCellElement>;
}

let worker: Worker | undefined;
let views: RunView[] = [];
let race: RaceSettings | undefined;
let contours: ImageData | undefined;
let dirty = false;

function startRace(settings: RaceSettings): void {
  worker?.terminate();
  race = settings;
  history.replaceState(null, '', settingsToQuery(settings));
  shareLink.href = location.href;
  const is2d = (FUNCTION_TASKS as readonly string[]).includes(settings.task);
  $('map-figure').hidden = !is2d;
  $('accuracy').hidden = is2d;
  $('detail-heading').textContent = is2d ? 'θ = (x, y)' : 'Test accuracy';
  $('results-caption').textContent = is2d
    ? 'On a 2-D task a step is a handful of kernel calls on two numbers: its time is call overhead and the page timer’s 0.1 ms resolution, not the cost of prediction. The MNIST task measures that.'
    : `Step time: median over the steps after the first 5 (forward, backward, update, reading the loss back). Prediction cost: that median over the same optimizer’s with s = 0. Test accuracy on the subset’s test images, every ${EVAL_EVERY} steps.`;
  contours = is2d
    ? renderContours(SURFACES[settings.task as keyof typeof SURFACES], 480, 480)
    : undefined;
  $('map-caption').textContent = is2d
    ? `${SURFACES[settings.task as keyof typeof SURFACES].title}. Lines: θ; rings: θ̂, where each step took its gradient (dashed: the latest θ̂ from its θ).`
    : '';
  resultsBody.replaceChildren();
  $('notices').replaceChildren();
  $('backend-in-use').textContent = '';
  views = settings.runs.map((run, i) => {
    const row = resultsBody.insertRow();
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = RUN_COLORS[i] as string;
    row.insertCell().append(swatch);
    row.insertCell().textContent = runLabel(run);
    const cell = (): HTMLTableCellElement => row.insertCell();
    const cells = { step: cell(), loss: cell(), detail: cell(), time: cell(), cost: cell() };
    const start = is2d ? SURFACES[settings.task as keyof typeof SURFACES].start : undefined;
    return {
      settings: run,
      color: RUN_COLORS[i] as string,
      records: [],
      thetas: start ? [start] : [],
      thetaHats: [],
      ms: [],
      cells,
    };
  });
  setStatus('running', `Starting the ${settings.backend} backend…`);
  startButton.disabled = false;
  stopButton.disabled = false;
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (event: MessageEvent<FromWorker>) => onWorkerMessage(event.data);
  worker.onerror = (event) => {
    finish('error', `The training worker failed: ${event.message}`);
  };
  const message: ToWorker = {
    type: 'start',
    settings,
    assetBase: new URL('./', location.href).href,
  };
  worker.postMessage(message);
  scheduleDraw();
}

function finish(state: 'done' | 'error' | 'stopped', text: string): void {
  worker?.terminate();
  worker = undefined;
  stopButton.disabled = true;
  setStatus(state, text);
  if (state === 'error') showErrors([text], 'The race stopped with an error:');
  scheduleDraw();
}

function onWorkerMessage(message: FromWorker): void {
  switch (message.type) {
    case 'backend': {
      const line = $('backend-in-use');
      line.dataset['backend'] = message.backend;
      line.textContent = `Backend in use: ${message.description}`;
      $('notices').replaceChildren(
        ...message.fallbacks.map((text) => {
          const item = document.createElement('li');
          item.textContent = text;
          return item;
        }),
      );
      break;
    }
    case 'records':
      for (const record of message.records) addRecord(record);
      updateStatus();
      scheduleDraw();
      break;
    case 'done':
      finish('done', `Done: ${race?.steps} steps.`);
      break;
    case 'error':
      finish('error', message.message);
      break;
  }
}

function addRecord(record: StepRecord): void {
  const view = views[record.run] as RunView;
  view.records.push(record);
  if (record.theta) view.thetas.push(record.theta);
  if (record.thetaHat) view.thetaHats.push(record.thetaHat);
  if (Number.isFinite(record.ms)) view.ms.push(record.ms);
  if (record.error) view.error = record.error;
}

function updateStatus(): void {
  const step = Math.max(0, ...views.map((v) => v.records.at(-1)?.step ?? 0));
  statusLine.dataset['step'] = String(step);
  setStatus('running', `Step ${step} of ${race?.steps}`);
}

/** Median step time, leaving out the first steps (kernel compilation, warm-up). */
function medianMs(view: RunView): number {
  const times = view.ms.slice(Math.min(5, Math.floor(view.ms.length / 2))).sort((a, b) => a - b);
  return times.length === 0 ? NaN : (times[Math.floor(times.length / 2)] as number);
}

function setCell(cell: HTMLTableCellElement, text: string, value?: number | string): void {
  cell.textContent = text;
  if (value !== undefined) cell.dataset['value'] = String(value);
}

function updateTable(): void {
  for (const view of views) {
    const last = view.records.at(-1);
    if (!last) continue;
    setCell(view.cells.step, String(last.step), last.step);
    setCell(view.cells.loss, last.loss.toPrecision(6), last.loss);
    if (last.theta) {
      setCell(
        view.cells.detail,
        `(${last.theta[0].toPrecision(6)}, ${last.theta[1].toPrecision(6)})`,
        last.theta.join(' '),
      );
    } else {
      const evaluated = view.records.filter((r) => r.accuracy !== undefined).at(-1);
      if (evaluated?.accuracy !== undefined) {
        setCell(
          view.cells.detail,
          `${(100 * evaluated.accuracy).toFixed(1)}% (step ${evaluated.step})`,
          evaluated.accuracy,
        );
      }
    }
    const ms = medianMs(view);
    setCell(view.cells.time, Number.isFinite(ms) ? `${ms.toFixed(2)} ms` : '—', ms);
    const base = views.find(
      (v) =>
        v.settings.predictionSteps === 0 &&
        v.settings.optimizer === view.settings.optimizer &&
        v.settings.learningRate === view.settings.learningRate &&
        v.settings.weightDecay === view.settings.weightDecay,
    );
    if (view.settings.predictionSteps === 0) {
      setCell(view.cells.cost, 'baseline');
    } else if (!base) {
      setCell(view.cells.cost, `add ${view.settings.optimizer} s=0 to measure`);
    } else {
      const ratio = ms / medianMs(base);
      const text = Number.isFinite(ratio)
        ? `${ratio >= 1 ? '+' : ''}${(100 * (ratio - 1)).toFixed(1)}%`
        : '—';
      setCell(view.cells.cost, text, ratio);
    }
    if (view.error) {
      view.cells.loss.className = 'diverged';
      view.cells.loss.textContent = view.error;
    }
  }
}

function scheduleDraw(): void {
  if (dirty) return;
  dirty = true;
  requestAnimationFrame(draw);
}

function draw(): void {
  dirty = false;
  if (!race) return;
  updateTable();
  const task = race.task;
  if (task !== 'mnist') {
    const surface = SURFACES[task];
    const trajectories: Trajectory[] = views.map((v) => ({
      color: v.color,
      thetas: v.thetas,
      thetaHats: v.thetaHats,
      showPrediction: v.settings.predictionSteps > 0,
    }));
    drawMap($<HTMLCanvasElement>('map'), surface, contours as ImageData, trajectories);
    drawCurves(
      $<HTMLCanvasElement>('loss'),
      views.map((v) => ({
        color: v.color,
        points: v.records.map((r) => [r.step, (r.lossAtTheta ?? NaN) - surface.minimumValue]),
      })),
      race.steps,
      { log: true, yLabel: 'loss − minimum at θ' },
    );
  } else {
    drawCurves(
      $<HTMLCanvasElement>('loss'),
      views.map((v) => ({ color: v.color, points: v.records.map((r) => [r.step, r.loss]) })),
      race.steps,
      { log: true, yLabel: 'training loss (minibatch)' },
    );
    drawCurves(
      $<HTMLCanvasElement>('accuracy'),
      views.map((v) => ({
        color: v.color,
        points: v.records.flatMap((r) => (r.accuracy === undefined ? [] : [[r.step, r.accuracy]])),
      })) as { color: string; points: [number, number][] }[],
      race.steps,
      { log: false, yLabel: 'test accuracy' },
    );
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const parsed = parseSettings(formQuery());
  if (!parsed.ok) {
    showErrors(parsed.errors);
    setStatus('error', 'Fix the settings above to start.');
    return;
  }
  showErrors([]);
  startRace(parsed.settings);
});
stopButton.addEventListener('click', () => finish('stopped', 'Stopped.'));

// ---- the URL on load ----

const initial = parseSettings(location.search);
if (initial.ok) {
  showSettings(initial.settings);
  shareLink.href = location.href;
} else {
  showSettings(defaultSettings());
  showErrors(initial.errors);
  setStatus('error', 'The link holds settings that cannot run; fix them above, then start.');
}
