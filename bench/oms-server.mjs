// Starts oauth2-mock-server over HTTPS on 127.0.0.1 for the benchmark.
// Usage: node oms-server.mjs KEY_PEM CERT_PEM READY_FILE
// Writes the issuer URL to READY_FILE once listening; stops on SIGTERM/SIGINT.
import { writeFileSync } from 'node:fs';
import { OAuth2Server } from 'oauth2-mock-server';

const [key, cert, readyFile] = process.argv.slice(2);
if (!key || !cert || !readyFile) {
  console.error('usage: node oms-server.mjs KEY_PEM CERT_PEM READY_FILE');
  process.exit(2);
}

const server = new OAuth2Server(key, cert);
await server.issuer.keys.generate('RS256'); // RSA 2048, as the emulator's key
await server.start(0, '127.0.0.1');
const { port } = server.address();
writeFileSync(readyFile, JSON.stringify({ url: server.issuer.url, port }) + '\n');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
