// Runs a real nginx as a child process for integration tests: generated config in a temp dir, bound to
// 127.0.0.1 on a free port, stopped (and its files removed) by stop().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Path of the nginx binary, or undefined when it is not installed. */
export function findNginx(): string | undefined {
  for (const p of [...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'nginx')), '/usr/sbin/nginx']) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** True when the binary was built with ngx_http_auth_request_module. */
export function hasAuthRequest(bin: string): boolean {
  const r = spawnSync(bin, ['-V'], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.includes('--with-http_auth_request_module');
}

/** A free TCP port on 127.0.0.1 (nginx cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, child: ChildProcess, errorLog: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) {
        const log = fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '';
        return reject(new Error(`nginx exited with ${child.exitCode}: ${log}`));
      }
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`nginx did not listen on ${port} within ${ms} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/** A running nginx. */
export interface NginxHandle {
  port: number;
  dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx with the `http { server { ... } }` body produced by `serverBlock(port)`; the surrounding
 * main/events/http settings (temp paths, pid, logs) are generated so nothing touches /etc or /var.
 */
export async function startNginx(bin: string, serverBlock: (port: number) => string): Promise<NginxHandle> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-nginx-'));
  const errorLog = path.join(dir, 'error.log');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${errorLog} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${serverBlock(port)}
}
`;
    const confPath = path.join(dir, 'nginx.conf');
    fs.writeFileSync(confPath, conf);
    const child = spawn(bin, ['-p', dir, '-e', errorLog, '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    try {
      await waitForPort(port, child, errorLog);
    } catch (err) {
      lastError = new Error(`${(err as Error).message}\n${stderr}`);
      child.kill('SIGKILL');
      continue; // the port may have been taken between probe and bind: try another
    }
    const stop = () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => { clearTimeout(t); resolve(); });
      child.kill('SIGQUIT'); // graceful: finish in-flight requests
    }).then(() => fs.rmSync(dir, { recursive: true, force: true }));
    return { port, dir, errorLog: () => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : ''), stop };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/**
 * protocols.md §3.3's internal auth location, `location = <path>`, asking Tether's nginx front door about
 * `app` through an `upstream tether { … }` block the caller defines (give it `keepalive`: Tether's nginx
 * answers carry no body, so nginx reuses the connections). `extra` adds directives (e.g. the caller secret's
 * proxy_set_header).
 */
export function tetherAuthLocation(path: string, app: string, extra = ''): string {
  return `
    location = ${path} {
      internal;${extra ? `\n      ${extra}` : ''}
      proxy_pass              http://tether/v1/authz/nginx?app=${app};
      proxy_pass_request_body off;
      proxy_set_header        Content-Length "";
      proxy_set_header        X-Original-URI    $request_uri;
      proxy_set_header        X-Original-Method $request_method;
      proxy_set_header        X-Forwarded-For   $proxy_add_x_forwarded_for;
      proxy_set_header        X-Forwarded-Proto $scheme;
      proxy_set_header        X-Forwarded-Host  $host;
      proxy_connect_timeout   1s;
      proxy_read_timeout      1s;
      proxy_http_version      1.1;
      proxy_set_header        Connection "";
    }`;
}

/**
 * A location protected by `auth_request <auth>` in front of an upstream on `upstreamPort`, returning Tether's
 * X-Tether-Reasons to the client; `extra` adds directives (e.g. passing X-Tether-Subject upstream, error_page).
 */
export function protectedLocation(prefix: string, auth: string, upstreamPort: number, extra: string[] = []): string {
  return `
    location ${prefix} {
      auth_request     ${auth};
      auth_request_set $tether_reasons $upstream_http_x_tether_reasons;
      add_header       X-Tether-Reasons $tether_reasons always;${extra.map((d) => `\n      ${d}`).join('')}
      proxy_pass       http://127.0.0.1:${upstreamPort};
    }`;
}
