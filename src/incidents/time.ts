/** Owns how incident times are written: UTC instants plus the server's zone and its offset at that instant. */

/** The zone of this process (`TZ`, or the system zone; `UTC` when unknown). */
export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const knownZones = new Set<string>();

/** True when `zone` is an IANA time zone name this runtime knows. */
export function isValidTimeZone(zone: unknown): zone is string {
  if (typeof zone !== 'string' || zone.length === 0 || zone.length > 64) return false;
  if (knownZones.has(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    return false;
  }
  if (knownZones.size < 1000) knownZones.add(zone);
  return true;
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** Offset of `zone` from UTC at `ms`, in minutes (east positive). */
export function utcOffsetMinutes(zone: string, ms: number): number {
  let fmt = offsetFormats.get(zone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    offsetFormats.set(zone, fmt);
  }
  const name = fmt.formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /^GMT([+-])(\d{2}):?(\d{2})?$/.exec(name);
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return m[1] === '-' ? -minutes : minutes;
}

/** `ms` as an ISO 8601 local time with the given offset, e.g. `2025-03-01T13:00:00.000+01:00`. */
export function localIsoTime(ms: number, offsetMinutes: number): string {
  const shifted = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${shifted}${sign}${hh}:${mm}`;
}

/** Milliseconds since the epoch of a Date or a number; NaN for anything else. */
export function toMs(value: Date | number | undefined): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return Number.NaN;
}

/** ISO 8601 UTC of ms since the epoch. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
