/**
 * Screenshots a finished race of the built playground for the README:
 *   npx vite build --config playground/vite.config.ts
 *   npx tsx playground/screenshot.ts docs/playground.png '?task=rosenbrock&…'
 */
import { launchChromium } from '../test/browser/chromium.js';
import { serveDirectory } from '../test/browser/static-server.js';
import { fileURLToPath } from 'node:url';

const [out = 'docs/playground.png', query = ''] = process.argv.slice(2);
const server = await serveDirectory(fileURLToPath(new URL('./dist', import.meta.url)));
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(server.url + query);
  await page.click('#start');
  await page.waitForFunction(
    "['done', 'error'].includes(document.getElementById('status').dataset.state)",
    null,
    { timeout: 600_000 },
  );
  const state = await page.getAttribute('#status', 'data-state');
  if (state !== 'done')
    throw new Error(`the race ended with: ${await page.textContent('#status')}`);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`${out}: ${await page.textContent('#backend-in-use')}`);
} finally {
  await browser.close();
  await server.close();
}
