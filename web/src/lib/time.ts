// Chain times as people read them: one helper for every time the UI shows (grants' expiries, record
// versions, requests, the audit log, emergency windows), in the reader's locale and time zone.
import { fromChainTime } from "./records";

const FORMAT: Intl.DateTimeFormatOptions = {
  weekday: "short",
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
};

/**
 * A chain time (nanoseconds since 1970, as the contracts give it) or a Date, in local time with its
 * weekday and short time-zone name, e.g. "Wed, 2 Dec 2026, 14:05 CET" (en-GB). `locale` and
 * `timeZone` default to the reader's; tests pin them.
 */
export function localTime(time: string | Date, options: { locale?: string; timeZone?: string } = {}): string {
  const date = typeof time === "string" ? fromChainTime(time) : time;
  if (Number.isNaN(date.getTime())) return "an unknown time";
  return date.toLocaleString(options.locale, { ...FORMAT, ...(options.timeZone ? { timeZone: options.timeZone } : {}) });
}
