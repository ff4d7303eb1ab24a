// What both browser drivers share: environment lookup and Debian's headless
// Chromium started through playwright-core (installed by scripts/install-tools.sh
// into OCRCHAT_NPM_DIR; Chromium at OCRCHAT_CHROMIUM, default /usr/bin/chromium).
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const env = (k, d) => process.env[k] ?? d;

/** A headless Chromium with background traffic off (the tests record every request). */
export async function launch() {
  const require = createRequire(join(env('OCRCHAT_NPM_DIR', '.'), 'package.json'));
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: env('OCRCHAT_CHROMIUM', '/usr/bin/chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
