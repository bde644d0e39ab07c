/**
 * A throwaway PostgreSQL cluster for the fault benchmark, so that restarting it disturbs nobody
 * else's database: created with `initdb` in its own folder, listening on its own port on
 * 127.0.0.1 with trust authentication. Run as the `postgres` user when the benchmark runs as root.
 */

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where the cluster lives and how to reach it. */
export interface ThrowawayPostgres {
  readonly dir: string;
  readonly port: number;
  readonly connectionString: string;
  restart(): void;
  stop(): void;
}

function binDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

function run(bin: string, args: string[]): string {
  const asRoot = process.getuid?.() === 0;
  if (!asRoot) return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return execFileSync('su', ['postgres', '-c', quoted], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Creates (first time) and starts the cluster in `dir` on `port`, with a database `hgfaults`
 * (dropped and created again, so each run starts empty). Returns null when no PostgreSQL
 * binaries are installed.
 */
export function startThrowawayPostgres(dir: string, port: number): ThrowawayPostgres | null {
  const bin = binDir();
  if (!bin) return null;
  const data = join(dir, 'data');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  if (!existsSync(join(data, 'PG_VERSION')))
    run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres']);
  const opts = `-p ${port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off`;
  const pgctl = (...args: string[]): string => run(join(bin, 'pg_ctl'), ['-D', data, ...args]);
  let running = true;
  try {
    pgctl('status');
  } catch {
    running = false;
  }
  if (!running) pgctl('-o', opts, '-l', join(dir, 'log'), '-w', 'start');
  const psql = (sql: string): string =>
    run(join(bin, 'psql'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-d',
      'postgres',
      '-qAtc',
      sql,
    ]);
  psql('DROP DATABASE IF EXISTS hgfaults');
  psql('CREATE DATABASE hgfaults');
  return {
    dir,
    port,
    connectionString: `postgres://postgres@127.0.0.1:${port}/hgfaults`,
    restart() {
      pgctl('-o', opts, '-l', join(dir, 'log'), '-m', 'fast', '-w', 'restart');
    },
    stop() {
      pgctl('-m', 'fast', '-w', 'stop');
    },
  };
}
