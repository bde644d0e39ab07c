/**
 * Owns the rate limit of console sign-ins: failed attempts are counted per client IP and per
 * user name in fixed windows; over either limit, sign-in is refused without checking the password.
 */

interface Bucket {
  count: number;
  resetAt: number;
}

const MAX_KEYS = 50_000;

/** Counts failed sign-ins. */
export class LoginLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #windowMs: number;
  readonly #maxPerIp: number;
  readonly #maxPerUser: number;
  readonly #now: () => number;

  constructor(limits: { windowMs: number; maxPerIp: number; maxPerUser: number }, now: () => number) {
    this.#windowMs = limits.windowMs;
    this.#maxPerIp = limits.maxPerIp;
    this.#maxPerUser = limits.maxPerUser;
    this.#now = now;
  }

  #bucket(key: string, at: number): Bucket | undefined {
    const b = this.#buckets.get(key);
    if (b && b.resetAt <= at) {
      this.#buckets.delete(key);
      return undefined;
    }
    return b;
  }

  /**
   * Whether a sign-in may be tried now; when not, how long until it may and which limit applies.
   * The user key is the name as typed, so unknown names are limited like known ones.
   */
  check(
    ip: string,
    user: string,
  ): { allowed: true } | { allowed: false; retryAfterMs: number; scope: 'ip' | 'user' } {
    const at = this.#now();
    const byIp = this.#bucket(`ip:${ip}`, at);
    if (byIp && byIp.count >= this.#maxPerIp)
      return { allowed: false, retryAfterMs: byIp.resetAt - at, scope: 'ip' };
    const byUser = this.#bucket(`user:${user}`, at);
    if (byUser && byUser.count >= this.#maxPerUser)
      return { allowed: false, retryAfterMs: byUser.resetAt - at, scope: 'user' };
    return { allowed: true };
  }

  /** Counts a failed attempt against the IP and the user name. */
  fail(ip: string, user: string): void {
    const at = this.#now();
    if (this.#buckets.size >= MAX_KEYS) {
      for (const [k, b] of this.#buckets) if (b.resetAt <= at) this.#buckets.delete(k);
      for (const k of this.#buckets.keys()) {
        if (this.#buckets.size < MAX_KEYS) break;
        this.#buckets.delete(k);
      }
    }
    for (const key of [`ip:${ip}`, `user:${user}`]) {
      const b = this.#bucket(key, at);
      if (b) b.count++;
      else this.#buckets.set(key, { count: 1, resetAt: at + this.#windowMs });
    }
  }

  /** A successful sign-in clears the user's count (the IP's stays: one IP may try many names). */
  succeed(user: string): void {
    this.#buckets.delete(`user:${user}`);
  }
}
