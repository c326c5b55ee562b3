import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

const run = promisify(execFile);

/** Debian's Chromium: playwright-core drives it; Playwright's own browser download cannot work here. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Without these, Chromium opens connections to Google's services at start, which this machine's
 * closed network refuses; the sandbox needs user namespaces a root process in a container lacks.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function present(): Promise<boolean> {
  return access(CHROMIUM_PATH).then(
    () => true,
    () => false,
  );
}

/**
 * Installs Debian's `chromium` package when it is missing (as root: apt-get from Debian's
 * registry, well under a minute), and says exactly why when it cannot.
 */
export async function ensureChromium(): Promise<void> {
  if (await present()) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      `${CHROMIUM_PATH} is missing and only root can install it: run \`apt-get install -y --no-install-recommends chromium\``,
    );
  const apt = { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024 };
  try {
    await run('apt-get', ['update', '-qq'], apt);
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], apt);
  } catch (error) {
    throw new Error(`installing Debian's chromium failed: ${(error as Error).message}`, { cause: error });
  }
  if (!(await present())) throw new Error(`apt-get installed chromium, yet ${CHROMIUM_PATH} is missing`);
}

export async function launchChromium(): Promise<Browser> {
  await ensureChromium();
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}
