// `entra up` (the emulator and the token broker) for the Node broker tests, and the
// runner of broker_clients.mjs scenarios in a child process whose environment holds
// only what the scenario's hosting environment would set (plus PATH, HOME and the
// emulator's CA for the token check against its JWKS).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENTRA_BIN, REPO } from './emulator.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const READY_MS = Number(process.env.ENTRA_READY_TIMEOUT ?? 60) * 1000;
const BROKER_KEYS = ['identity_endpoint', 'identity_header', 'imds_endpoint', 'metrics_url'];

// ready.json once it names the emulator and a complete `broker` object, else null.
function readReady(path) {
  let ready;
  try { ready = JSON.parse(readFileSync(path, 'utf8')); } catch { return null; }
  const b = ready.broker;
  const complete = ready.authority && ready.ca_file && existsSync(ready.ca_file) &&
    b && BROKER_KEYS.every((k) => typeof b[k] === 'string' && b[k]);
  return complete ? ready : null;
}

export async function startStack() {
  if (!existsSync(ENTRA_BIN)) throw new Error(`${ENTRA_BIN} not found: build it with cargo build --workspace`);
  const stateDir = mkdtempSync(join(tmpdir(), 'entra-broker-node-'));
  const logPath = join(stateDir, 'up.log');
  const env = Object.fromEntries(Object.entries(process.env)
    .filter(([k]) => !/^(AZURE_|MSAL_|IDENTITY_|IMDS_|MSI_)/.test(k)));
  const out = openSync(logPath, 'w');
  const child = spawn(ENTRA_BIN, ['up', '--port', '0', '--state-dir', stateDir],
    { cwd: REPO, env, stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  const status = { exit: null };
  child.on('exit', (code, signal) => { status.exit = { code, signal }; });

  const logTail = () => { try { return readFileSync(logPath, 'utf8').slice(-4000); } catch { return '<no log>'; } };
  const signalGroup = (sig) => { try { process.kill(-child.pid, sig); } catch { /* already gone */ } };
  const waitExit = async (ms) => { for (let t = 0; t < ms && status.exit === null; t += 100) await sleep(100); };
  const stop = async () => {
    if (status.exit === null) { signalGroup('SIGTERM'); await waitExit(10000); }
    if (status.exit === null) { signalGroup('SIGKILL'); await waitExit(5000); }
    if (!process.env.ENTRA_KEEP_STATE) rmSync(stateDir, { recursive: true, force: true });
  };

  const readyPath = join(stateDir, 'ready.json');
  for (const giveUp = Date.now() + READY_MS; Date.now() < giveUp; await sleep(100)) {
    const ready = readReady(readyPath);
    if (ready) {
      const authority = ready.authority.replace(/\/+$/, '');
      return { ready, authority, broker: ready.broker, caFile: ready.ca_file, stateDir, stop, log: logTail };
    }
    if (status.exit !== null) break;
  }
  const why = status.exit === null ? `not ready after ${READY_MS} ms` : `exited ${JSON.stringify(status.exit)}`;
  const tail = logTail();
  await stop();
  throw new Error(`entra up ${why} (ready.json without a complete broker object); output:\n${tail}`);
}

// The variables each hosting environment sets, pointing at the broker.
export function hostEnv(stack, kind) {
  const b = stack.broker;
  const base = b.imds_endpoint.replace(/\/+$/, '');
  switch (kind) {
    case 'app-service': return { IDENTITY_ENDPOINT: b.identity_endpoint, IDENTITY_HEADER: b.identity_header };
    case 'imds': return { AZURE_POD_IDENTITY_AUTHORITY_HOST: base };
    case 'cloud-shell': return { MSI_ENDPOINT: `${base}/oauth2/token` };
    default: throw new Error(`unknown hosting environment ${kind}`);
  }
}

// Runs `broker_clients.mjs <scenario>` with exactly `vars` (and PATH, HOME, the CA for the
// JWKS check); returns its RESULT object, with `status`, `signal` and `stderr` on failure.
export function runBrokerClient(stack, scenario, vars, { resource = 'api://contoso-api', timeoutMs = 60000 } = {}) {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    NO_PROXY: 'localhost,127.0.0.1,::1',
    NODE_EXTRA_CA_CERTS: stack.caFile,
    BROKER_TEST_AUTHORITY: stack.authority,
    BROKER_TEST_RESOURCE: resource,
    ...vars,
  };
  const r = spawnSync(process.execPath, [join(here, 'broker_clients.mjs'), scenario], {
    env, encoding: 'utf8', timeout: timeoutMs, cwd: here, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  const result = line ? JSON.parse(line.slice('RESULT '.length)) : {};
  if (r.status !== 0 || !line) Object.assign(result, { status: r.status, signal: r.signal, stderr: (r.stderr ?? '').slice(-4000) });
  return result;
}
