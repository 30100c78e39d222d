/** Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work here). */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Debian's Chromium at ${CHROMIUM}: run \`apt-get install -y chromium\`.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', ...extraArgs] });
}
