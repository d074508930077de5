/**
 * HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, rfc850-date and asctime-date, read leniently.
 *
 * Recipients SHOULD accept all three formats. Beyond that this parser tolerates the usual damage
 * seen in the wild (wrong case, `UTC` for `GMT`, dashes, extra spaces, a missing comma, a one-digit
 * hour, `.` as time separator) as long as every part of a date is present and in range; anything
 * else (e.g. `0`, the classic "already expired" Expires value) is invalid and yields null.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const TOKEN_SPLIT = /[\s,-]+/;
const TIME_SPLIT = /[:.]/;
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/**
 * ms since epoch, or null. `reference` (ms) anchors two-digit years (RFC 9110 §5.6.7: a year more
 * than 50 years in the future is taken as the most recent past year with those digits); without
 * it, 00–69 → 20xx and 70–99 → 19xx.
 */
export function parseHttpDate(value: string | undefined, reference?: number): number | null {
  if (value === undefined) return null;
  const s = value.trim();
  if (s.length < 10 || s.length > 64) return null;
  let month = -1;
  let day = -1;
  let year = -1;
  let yearDigits = 0;
  let h = -1;
  let m = -1;
  let sec = -1;
  const nums: string[] = [];
  // Tokens are separated by spaces, commas and dashes; the time token keeps its ':' / '.'.
  const tokens = s.split(TOKEN_SPLIT);
  for (const raw of tokens) {
    if (raw.length === 0) continue;
    const t = raw.toLowerCase();
    const c = t.charCodeAt(0);
    if (c >= 97 && c <= 122) {
      const mi = MONTHS.indexOf(t);
      if (mi !== -1) {
        if (month !== -1) return null;
        month = mi;
      } else if (t === 'gmt' || t === 'utc' || t === 'ut' || t === 'z') {
        // the only zone HTTP has
      } else if (!DAYS.includes(t)) {
        return null;
      }
      continue;
    }
    if (t.includes(':') || t.includes('.')) {
      const parts = t.split(TIME_SPLIT);
      if (h !== -1 || parts.length !== 3) return null;
      h = digits(parts[0], 1, 2);
      m = digits(parts[1], 2, 2);
      sec = digits(parts[2], 2, 2);
      if (h < 0 || m < 0 || sec < 0) return null;
      continue;
    }
    nums.push(t);
  }
  if (nums.length !== 2 || month === -1 || h === -1) return null;
  // IMF-fixdate / rfc850: day first then year; asctime: day then (after the time) year — the same order.
  if (nums[0].length === 4 && nums[1].length <= 2) {
    year = digits(nums[0], 4, 4);
    day = digits(nums[1], 1, 2);
    yearDigits = 4;
  } else {
    day = digits(nums[0], 1, 2);
    yearDigits = nums[1].length;
    year = yearDigits === 4 ? digits(nums[1], 4, 4) : yearDigits === 2 ? digits(nums[1], 2, 2) : -1;
  }
  if (day < 1 || day > 31 || year < 0 || h > 23 || m > 59 || sec > 60) return null;
  if (yearDigits === 2) year = twoDigitYear(year, reference);
  const t = Date.UTC(year, month, day, h, m, sec === 60 ? 59 : sec);
  if (new Date(t).getUTCDate() !== day) return null; // 31 Feb and the like
  return t;
}

function twoDigitYear(yy: number, reference: number | undefined): number {
  if (reference === undefined) return yy < 70 ? 2000 + yy : 1900 + yy;
  const now = new Date(reference).getUTCFullYear();
  let y = Math.floor(now / 100) * 100 + yy;
  if (y > now + 50) y -= 100;
  return y;
}

function digits(s: string, min: number, max: number): number {
  if (s.length < min || s.length > max) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function formatHttpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}

// Strict grammar (RFC 9110 §5.6.7). The RFC calls HTTP-date case-sensitive, but a wrong-case
// `thu`/`DEC`/`gmt` is still unambiguous, so case is the one liberty taken.
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const RFC850_DATE = /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const ASCTIME_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;
const MONTH_INDEX: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

/**
 * HTTP-date exactly as RFC 9110 §5.6.7 defines it (IMF-fixdate, rfc850-date, asctime-date), or
 * null. Used where a misread date would extend freshness: an `Expires` that is not a valid
 * HTTP-date means "already expired" (RFC 9111 §5.3), so guessing at a damaged one would turn
 * "expired" into "fresh".
 */
export function parseStrictHttpDate(value: string, reference?: number): number | null {
  let m = IMF_FIXDATE.exec(value);
  if (m !== null) return build(Number(m[4]), MONTH_INDEX[m[3].toLowerCase()], Number(m[2]), m[5], m[6], m[7]);
  m = RFC850_DATE.exec(value);
  if (m !== null) return build(twoDigitYear(Number(m[4]), reference), MONTH_INDEX[m[3].toLowerCase()], Number(m[2]), m[5], m[6], m[7]);
  m = ASCTIME_DATE.exec(value);
  if (m !== null) return build(Number(m[7]), MONTH_INDEX[m[2].toLowerCase()], Number(m[3].trim()), m[4], m[5], m[6]);
  return null;
}

function build(year: number, month: number, day: number, hh: string, mm: string, ss: string): number | null {
  const h = Number(hh);
  const mi = Number(mm);
  const sec = Number(ss);
  if (day < 1 || h > 23 || mi > 59 || sec > 60) return null;
  const t = Date.UTC(year, month, day, h, mi, sec === 60 ? 59 : sec);
  return new Date(t).getUTCDate() === day ? t : null;
}
