import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PluginMetrics } from './metrics.js';
import { ConfigError } from '../config-error.js';

/** What the HTTP endpoints ask; each returns undefined when fine, or a short reason. */
export interface HealthChecks {
  /** Process and socket alive. Backend outages and revoked permissions never fail it. */
  live(): string | undefined;
  /** Serving, and a key known. */
  ready(): string | undefined;
  /** Backend reached recently and accepting the key. */
  backend(): string | undefined;
}

/** Parse `host:port` for --health-addr; "off" disables the endpoints. */
export function parseHealthAddress(value: string, flag = '--health-addr'): { host: string; port: number } | undefined {
  if (value === 'off' || value === '') return undefined;
  const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`${flag} must be host:port (e.g. 127.0.0.1:8787) or "off" (got "${value}")`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

/** /livez, /readyz, /healthz and /metrics over plain HTTP, on loopback by default. */
export class HealthServer {
  private readonly server: Server;

  constructor(checks: HealthChecks, metrics: PluginMetrics) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const probes: Record<string, () => string | undefined> = {
        '/livez': () => checks.live(),
        '/readyz': () => checks.ready(),
        '/healthz': () => checks.backend(),
      };
      const probe = path === undefined ? undefined : probes[path];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
      } else if (probe) {
        const problem = probe();
        res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain; charset=utf-8' }).end(problem ? `${problem}\n` : 'ok\n');
      } else if (path === '/metrics') {
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      } else {
        res.writeHead(404).end();
      }
    });
  }

  /** Listen; resolves with the bound address (port 0 picks a free port). */
  listen(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (err) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
      this.server.listen(port, host, () => {
        const addr = this.server.address() as AddressInfo;
        resolve(`${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
