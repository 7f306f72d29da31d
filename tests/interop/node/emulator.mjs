// Start/stop target/debug/entra for the Node tests, and run client scenarios in a
// child node process that trusts the emulator's CA through NODE_EXTRA_CA_CERTS
// (Node reads it only at start-up, so the clients cannot run in the test process).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..', '..');
export const ENTRA_BIN = process.env.ENTRA_BIN ?? join(REPO, 'target', 'debug', 'entra');
const READY_TIMEOUT_MS = Number(process.env.ENTRA_READY_TIMEOUT ?? 60) * 1000;

export const TENANT = 'c0ffee00-0000-4000-8000-000000000001';
export const API_APP = 'a0000000-0000-4000-8000-0000000000a1';
export const API_DEFAULT = 'api://contoso-api/.default';
export const DAEMON = 'd0000000-0000-4000-8000-0000000000d1';
export const DAEMON_SECRET = 'daemon-dev-secret';

export async function startEmulator() {
  if (!existsSync(ENTRA_BIN)) throw new Error(`${ENTRA_BIN} not found: build it with cargo build --workspace`);
  const stateDir = mkdtempSync(join(tmpdir(), 'entra-node-'));
  const args = ['emulator', '--port', '0', '--state-dir', stateDir, '--token-lifetime', '3600'];
  const logPath = join(stateDir, 'emulator.log');
  const fd = openSync(logPath, 'w');
  const child = spawn(ENTRA_BIN, args, { cwd: REPO, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });

  const log = () => { try { return readFileSync(logPath, 'utf8').slice(-4000); } catch { return '<no log>'; } };
  const stop = async () => {
    if (exited === null) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { try { child.kill('SIGTERM'); } catch { /* gone */ } }
      for (let i = 0; i < 100 && exited === null; i++) await sleep(100);
      if (exited === null) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { try { child.kill('SIGKILL'); } catch { /* gone */ } }
        for (let i = 0; i < 50 && exited === null; i++) await sleep(100);
      }
    }
    if (!process.env.ENTRA_KEEP_STATE) rmSync(stateDir, { recursive: true, force: true });
  };

  const readyPath = join(stateDir, 'ready.json');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) {
      const l = log();
      await stop();
      throw new Error(`emulator exited (${JSON.stringify(exited)}) before ready.json; log:\n${l}`);
    }
    if (existsSync(readyPath)) {
      try {
        const ready = JSON.parse(readFileSync(readyPath, 'utf8'));
        if (ready.authority && ready.ca_file && existsSync(ready.ca_file)) {
          ready.authority = ready.authority.replace(/\/+$/, '');
          return { ready, stateDir, stop, log };
        }
      } catch { /* half-written */ }
    }
    await sleep(100);
  }
  const l = log();
  await stop();
  throw new Error(`emulator not ready after ${READY_TIMEOUT_MS} ms; log:\n${l}`);
}

// Run `clients.mjs <scenario>` against the emulator; returns its parsed RESULT line.
export function runClient(emu, scenario, timeoutMs = 60000) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(AZURE_|MSAL_|IDENTITY_|IMDS_|MSI_|HTTPS?_PROXY|https?_proxy|NODE_OPTIONS|NODE_TEST)/.test(k)) env[k] = v;
  }
  Object.assign(env, {
    NODE_EXTRA_CA_CERTS: emu.ready.ca_file,
    NO_PROXY: 'localhost,127.0.0.1,::1',
    ENTRA_AUTHORITY: emu.ready.authority,
    ENTRA_STATE_DIR: emu.stateDir,
  });
  const r = spawnSync(process.execPath, [join(here, 'clients.mjs'), scenario], {
    env, encoding: 'utf8', timeout: timeoutMs, cwd: here, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) {
    throw new Error(`scenario ${scenario} failed (status ${r.status}, signal ${r.signal}):\n` +
      `${r.stdout ?? ''}\n${r.stderr ?? ''}\nemulator log:\n${emu.log()}`);
  }
  return JSON.parse(line.slice('RESULT '.length));
}
