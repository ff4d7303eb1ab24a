// What both browser drivers share: environment lookup and Debian's headless
// Chromium started through playwright-core (installed by scripts/install-tools.sh
// into OCRCHAT_NPM_DIR; Chromium at OCRCHAT_CHROMIUM, default /usr/bin/chromium).
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const env = (k, d) => process.env[k] ?? d;

/**
 * A headless Chromium with background traffic off (the tests record every request).
 * A start that fails is tried again, twice: CI once saw Chromium exit during
 * start-up and the next test's start seconds later succeed. Each failure is
 * printed whole (with Chromium's own log), so a browser that cannot start at
 * all still fails the run, with its reason.
 */
export async function launch() {
  const require = createRequire(join(env('OCRCHAT_NPM_DIR', '.'), 'package.json'));
  const { chromium } = require('playwright-core');
  const options = {
    executablePath: env('OCRCHAT_CHROMIUM', '/usr/bin/chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await chromium.launch(options);
    } catch (e) {
      if (attempt === 3) throw e;
      console.error(`chromium did not start (attempt ${attempt} of 3), trying again:`, e);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
