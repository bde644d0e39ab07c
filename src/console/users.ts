/**
 * Owns the console's user directory: the fixed users of the options plus the users admins add,
 * kept in a JSON file (mode 0600, replaced atomically, re-read when another process changed it).
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../observability/logger';
import { CONSOLE_ROLES, type ConsoleRole, type ConsoleUserOption, USER_NAME } from './options';
import { parsePasswordHash } from './passwords';
import { Refusal } from './refusal';

/** A console user as the directory keeps it. */
export interface ConsoleUser {
  readonly name: string;
  readonly role: ConsoleRole;
  readonly passwordHash: string;
  /** `options`: fixed by the host; `file`: added in the console. */
  readonly source: 'options' | 'file';
  /** ISO 8601, or null for users of the options. */
  readonly createdAt: string | null;
  readonly createdBy: string | null;
  /** Bumped on every password or role change (sessions of an older version end). */
  readonly version: number;
}

interface FileUser {
  name: string;
  role: ConsoleRole;
  passwordHash: string;
  createdAt: string;
  createdBy: string;
  version: number;
}

/** A change the directory refuses (shown to the admin as is; no secrets in it). */
export class UserDirectoryError extends Refusal {}

interface Stamp {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

function sameStamp(a: Stamp | undefined, b: Stamp | undefined): boolean {
  return a?.mtimeMs === b?.mtimeMs && a?.size === b?.size && a?.ino === b?.ino;
}

function parseFile(text: string): FileUser[] {
  const doc = JSON.parse(text) as { format?: unknown; users?: unknown };
  if (doc.format !== 'hashgate-console-users' || !Array.isArray(doc.users))
    throw new Error('not a users file');
  const out: FileUser[] = [];
  for (const u of doc.users as Record<string, unknown>[]) {
    if (
      typeof u?.name !== 'string' ||
      !USER_NAME.test(u.name) ||
      !CONSOLE_ROLES.includes(u.role as ConsoleRole) ||
      !parsePasswordHash(u.passwordHash)
    ) {
      throw new Error('a user record is malformed');
    }
    out.push({
      name: u.name,
      role: u.role as ConsoleRole,
      passwordHash: u.passwordHash as string,
      createdAt: typeof u.createdAt === 'string' ? u.createdAt : '',
      createdBy: typeof u.createdBy === 'string' ? u.createdBy : '',
      version: typeof u.version === 'number' && Number.isSafeInteger(u.version) ? u.version : 1,
    });
  }
  return out;
}

/** The users of the console. */
export class UserDirectory {
  readonly #fixed: ReadonlyMap<string, ConsoleUser>;
  readonly #file: string | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  #users: FileUser[] = [];
  #stamp: Stamp | undefined;
  #broken = false;
  #chain: Promise<unknown> = Promise.resolve();
  #warnedMode = false;

  constructor(
    fixed: readonly ConsoleUserOption[],
    file: string | undefined,
    logger: Logger,
    now: () => number,
  ) {
    this.#fixed = new Map(
      fixed.map((u) => [
        u.name,
        { ...u, source: 'options' as const, createdAt: null, createdBy: null, version: 1 },
      ]),
    );
    this.#file = file;
    this.#logger = logger;
    this.#now = now;
  }

  /** True when admins can add users (a users file is configured). */
  get editable(): boolean {
    return this.#file !== undefined;
  }

  /** Serialises reads and writes of the file. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #refresh(): Promise<void> {
    if (!this.#file) return;
    let s: Stamp | undefined;
    try {
      const st = await stat(this.#file);
      s = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
      if ((st.mode & 0o077) !== 0 && !this.#warnedMode) {
        this.#warnedMode = true;
        this.#logger.warn(
          'the console users file is readable by other users of this machine; set its mode to 0600',
        );
      }
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    if (sameStamp(s, this.#stamp) && !this.#broken) return;
    if (!s) {
      this.#users = [];
      this.#stamp = undefined;
      this.#broken = false;
      return;
    }
    try {
      this.#users = parseFile(await readFile(this.#file, 'utf8'));
      this.#broken = false;
    } catch {
      // fail closed: nobody from the file signs in until it is repaired
      this.#users = [];
      this.#broken = true;
      this.#logger.error('the console users file cannot be read; only the users of the options can sign in');
    }
    this.#stamp = s;
  }

  async #write(users: FileUser[]): Promise<void> {
    const file = this.#file!;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const temp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
    const body = `${JSON.stringify({ format: 'hashgate-console-users', version: 1, users }, null, 2)}\n`;
    try {
      const fh = await open(temp, 'wx', 0o600);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    this.#users = users;
    const st = await stat(file);
    this.#stamp = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
    this.#broken = false;
  }

  #view(u: FileUser): ConsoleUser {
    return {
      name: u.name,
      role: u.role,
      passwordHash: u.passwordHash,
      source: 'file',
      createdAt: u.createdAt || null,
      createdBy: u.createdBy || null,
      version: u.version,
    };
  }

  /** The user of this name (users of the options win over the file), or undefined. */
  get(name: string): Promise<ConsoleUser | undefined> {
    return this.#exclusive(async () => {
      const fixed = this.#fixed.get(name);
      if (fixed) return fixed;
      await this.#refresh();
      const u = this.#users.find((x) => x.name === name);
      return u ? this.#view(u) : undefined;
    });
  }

  /** Every user, by name. */
  list(): Promise<ConsoleUser[]> {
    return this.#exclusive(async () => {
      await this.#refresh();
      const all = [
        ...this.#fixed.values(),
        ...this.#users.filter((u) => !this.#fixed.has(u.name)).map((u) => this.#view(u)),
      ];
      return all.sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  #mutate(fn: (users: FileUser[]) => FileUser[]): Promise<void> {
    return this.#exclusive(async () => {
      if (!this.#file)
        throw new UserDirectoryError('Users are fixed by the host: no users file is configured');
      await this.#refresh();
      if (this.#broken) throw new UserDirectoryError('The users file cannot be read; repair it first');
      const next = fn(this.#users.map((u) => ({ ...u })));
      const admins =
        [...this.#fixed.values()].filter((u) => u.role === 'admin').length +
        next.filter((u) => u.role === 'admin' && !this.#fixed.has(u.name)).length;
      if (admins === 0) throw new UserDirectoryError('The console needs at least one admin');
      await this.#write(next);
    });
  }

  #editable(users: FileUser[], name: string): FileUser {
    if (this.#fixed.has(name))
      throw new UserDirectoryError(`${name} is set in the host's options and cannot be changed here`);
    const u = users.find((x) => x.name === name);
    if (!u) throw new UserDirectoryError(`There is no user ${name}`);
    return u;
  }

  /** Adds a user to the file. */
  add(user: { name: string; role: ConsoleRole; passwordHash: string }, by: string): Promise<void> {
    return this.#mutate((users) => {
      if (this.#fixed.has(user.name) || users.some((u) => u.name === user.name))
        throw new UserDirectoryError(`There is already a user ${user.name}`);
      return [
        ...users,
        { ...user, createdAt: new Date(this.#now()).toISOString(), createdBy: by, version: 1 },
      ];
    });
  }

  /** Changes a file user's role. */
  setRole(name: string, role: ConsoleRole): Promise<void> {
    return this.#mutate((users) => {
      const u = this.#editable(users, name);
      u.role = role;
      u.version++;
      return users;
    });
  }

  /** Replaces a file user's password hash. */
  setPassword(name: string, passwordHash: string): Promise<void> {
    return this.#mutate((users) => {
      const u = this.#editable(users, name);
      u.passwordHash = passwordHash;
      u.version++;
      return users;
    });
  }

  /** Removes a file user. */
  remove(name: string): Promise<void> {
    return this.#mutate((users) => {
      this.#editable(users, name);
      return users.filter((u) => u.name !== name);
    });
  }
}
