import { describe, expect, it } from 'vitest';
import { createProgress } from '../../src/training/index.js';

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = { isTTY, write: (s: string) => (chunks.push(s), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

describe('progress display', () => {
  it('auto writes plain lines when the stream is not a TTY, at most ~10 per run', () => {
    const { stream, text } = fakeStream(false);
    const p = createProgress('auto', 'samples', stream);
    p.start(100, 0, 1);
    for (let s = 1; s <= 100; s++) p.update(s, { epoch: 1, loss: 0.5, rate: 1000 });
    p.log('epoch 1/1: done');
    p.stop();
    const lines = text().trim().split('\n');
    expect(lines).toContain('step 10/100 epoch 1 loss 0.5000 1000 samples/s');
    expect(lines.length).toBeLessThanOrEqual(11);
    expect(lines[lines.length - 1]).toBe('epoch 1/1: done');
  });

  it('bar: the bar ends at 100% above the last epoch line and is not drawn again below it', () => {
    const { stream, text } = fakeStream(true);
    const p = createProgress('bar', 'samples', stream);
    p.start(20, 0, 1);
    for (let s = 1; s <= 10; s++) p.update(s, { epoch: 1, loss: 0.5, rate: 1000 });
    p.log('epoch 1/2: halfway');
    for (let s = 11; s <= 20; s++) p.update(s, { epoch: 2, loss: 0.4, rate: 1000 });
    p.log('epoch 2/2: done');
    p.stop();
    const out = text();
    // Mid-run the bar is redrawn below an epoch line; after the last one, nothing follows it.
    expect(out.slice(out.indexOf('epoch 1/2: halfway'))).toMatch(/halfway\n[^]*step 10\/20/);
    expect(out.endsWith('epoch 2/2: done\n')).toBe(true);
    expect(out.slice(0, out.indexOf('epoch 2/2: done'))).toContain('100% | step 20/20');
  });

  it('none is silent', () => {
    const { stream, text } = fakeStream(true);
    const p = createProgress('none', 'samples', stream);
    p.start(10, 0, 1);
    p.update(5, { epoch: 1, loss: 1, rate: 1 });
    p.log('x');
    p.stop();
    expect(text()).toBe('');
  });
});
