// Loaded with `node --import` into a process under test: records every outgoing TCP connection
// and DNS lookup to the file named by K8S_KMS_CONNECTIONS_FILE (one JSON line each) and blocks
// those that leave loopback, so that a test can prove what a process reaches for without
// letting it reach anything.
import { appendFileSync } from 'node:fs';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

const file = process.env.K8S_KMS_CONNECTIONS_FILE;
if (!file) throw new Error('record-connections: set K8S_KMS_CONNECTIONS_FILE');
const record = (entry) => appendFileSync(file, `${JSON.stringify(entry)}\n`);
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect passes its normalized [options, callback]; a direct call passes (options | port, ...).
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options =
    typeof first === 'object' && first !== null ? first : { port: first, host: typeof args[1] === 'string' ? args[1] : undefined };
  if (options.path) {
    record({ connect: `unix:${options.path}` });
    return connect.apply(this, args);
  }
  const host = options.host ?? 'localhost';
  const target = `${host}:${options.port}`;
  if (LOOPBACK.has(host)) {
    record({ connect: target });
    return connect.apply(this, args);
  }
  record({ connect: target, blocked: true });
  process.nextTick(() => this.destroy(Object.assign(new Error(`connect EHOSTUNREACH ${target} (blocked)`), { code: 'EHOSTUNREACH' })));
  return this;
};

const refuse = (hostname) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (blocked)`), { code: 'ENOTFOUND', hostname });
// An IP literal "looked up" (grpc-js does) sends no DNS query: only names are recorded.
const lookup = dns.lookup;
dns.lookup = function (hostname, ...rest) {
  if (net.isIP(hostname)) return lookup.call(this, hostname, ...rest);
  record({ lookup: hostname });
  if (LOOPBACK.has(hostname)) return lookup.call(this, hostname, ...rest);
  const callback = rest[rest.length - 1];
  process.nextTick(() => callback(refuse(hostname)));
  return undefined;
};
const promisesLookup = dns.promises.lookup;
dns.promises.lookup = async function (hostname, ...rest) {
  if (net.isIP(hostname)) return promisesLookup.call(this, hostname, ...rest);
  record({ lookup: hostname });
  if (LOOPBACK.has(hostname)) return promisesLookup.call(this, hostname, ...rest);
  throw refuse(hostname);
};
syncBuiltinESMExports();
