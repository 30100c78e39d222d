/**
 * TF.js's cpu backend greets every Node.js process that uses it with a banner recommending
 * `@tensorflow/tfjs-node` ("Hi, looks like you are running TensorFlow.js in Node.js…"). The CLI
 * chooses its backend on purpose and says which one it uses, so the banner is noise there. Only
 * that message is dropped: every other warning still gets through.
 */
const BANNER = 'looks like you are running TensorFlow.js in Node.js';

let muted = false;

export function muteTfjsNodeBanner(): void {
  if (muted) return;
  muted = true;
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes(BANNER)) return;
    warn(...args);
  };
}
