/**
 * CronExpression: the 5-field cron dialect of `AMQ_SCHEDULED_CRON` (minute hour day-of-month month day-of-week),
 * parsed once and asked for "the next firing strictly after t". It owns parsing, validation and the search;
 * it does no I/O and reads no clock (the caller passes the time).
 *
 * Syntax per field: a comma list of items; an item is `*`, `N`, `N-M`, each optionally followed by `/STEP`
 * (`N/STEP` means N up to the field's maximum). Months accept JAN..DEC, days of week SUN..SAT (case-insensitive);
 * day of week 7 is Sunday, like 0.
 *
 * Semantics follow classic (Vixie) cron, which is also what ActiveMQ's CronParser documents:
 * - firings happen on whole minutes, strictly after the given time;
 * - when both day-of-month and day-of-week are restricted (neither starts with `*`) a day matches if EITHER does;
 *   otherwise both must (the `*` one always does);
 * - steps count from the start of the item's range (`1-10/3` = 1,4,7,10; `* /2` on days of month = 1,3,5...).
 *   ActiveMQ's own parser keeps the values divisible by the step instead; for `*` in minutes and hours (the
 *   common case) the two agree. We keep the documented cron meaning and say so here rather than copy the quirk.
 * - times are the broker's local time zone by default, like ActiveMQ (which uses the JVM default Calendar);
 *   `{ utc: true }` is for tests and for operators who run brokers in UTC anyway.
 *
 * Not promised: seconds, years, `L`/`W`/`#`/`?` (Quartz extensions), `@hourly` macros: they are rejected with
 * SCHEDULER_HEADER_INVALID, never silently ignored. An expression that can never fire (`0 0 30 2 *`) is rejected too.
 */
import { BrokerError } from '../../lib/errors.ts'

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

interface FieldSpec {
  name: string
  min: number
  max: number
  /** Names accepted for values, index 0 = `min`. */
  names?: string[]
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES },
]

/** How many years ahead the search looks before declaring that an expression never fires (covers Feb 29). */
export const CRON_SEARCH_YEARS_MAX = 8
/** Hard cap on search steps; each step jumps a whole month, day, hour or minute, so real searches use far fewer. */
const CRON_SEARCH_STEPS_MAX = 200_000
/** Longest cron text accepted (a header value, so it is bounded like every input). */
export const CRON_TEXT_CHARS_MAX = 1024

export interface CronNextOptions {
  /** Evaluate fields in UTC instead of the local time zone. */
  utc?: boolean
}

export class CronExpression {
  private constructor(
    readonly text: string,
    private readonly minutes: boolean[],
    private readonly hours: boolean[],
    private readonly daysOfMonth: boolean[],
    private readonly months: boolean[],
    private readonly daysOfWeek: boolean[],
    /** true when day-of-month resp. day-of-week start with `*` (cron's DOM_STAR / DOW_STAR). */
    private readonly domStar: boolean,
    private readonly dowStar: boolean,
  ) {}

  /**
   * Parse and validate. `where` names the source in errors (e.g. the header name).
   * Throws SCHEDULER_HEADER_INVALID naming the field, the value found and what was expected.
   */
  static parse(text: string, where = 'cron expression', opts: CronNextOptions & { now?: number } = {}): CronExpression {
    const bad = (why: string): never => {
      throw new BrokerError(
        'SCHEDULER_HEADER_INVALID',
        `${where}: ${JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text)} ${why}`,
        {
          details: { header: where, value: text },
        },
      )
    }
    if (text.length > CRON_TEXT_CHARS_MAX) bad(`is longer than ${CRON_TEXT_CHARS_MAX} characters`)
    const tokens = text
      .trim()
      .split(/\s+/)
      .filter((t) => t.length > 0)
    if (tokens.length !== 5) bad(`has ${tokens.length} fields; expected 5 (minute hour day-of-month month day-of-week)`)
    const sets = tokens.map((tok, i) => parseField(tok, FIELDS[i]!, bad))
    // Day of week 7 is Sunday: fold it onto 0 so the search needs one index per weekday.
    const dow = sets[4]!
    if (dow[7]) dow[0] = true
    const expr = new CronExpression(
      tokens.join(' '),
      sets[0]!,
      sets[1]!,
      sets[2]!,
      sets[3]!,
      dow,
      tokens[2]!.startsWith('*'),
      tokens[4]!.startsWith('*'),
    )
    if (expr.next(opts.now ?? Date.now(), opts) === null)
      bad(`never fires (no matching date within ${CRON_SEARCH_YEARS_MAX} years)`)
    return expr
  }

  /** The first whole minute strictly after `afterMs` that matches, or null if none within CRON_SEARCH_YEARS_MAX. */
  next(afterMs: number, opts: CronNextOptions = {}): number | null {
    const utc = opts.utc === true
    const make = utc
      ? (y: number, mo: number, d: number, h: number, mi: number) => Date.UTC(y, mo, d, h, mi)
      : (y: number, mo: number, d: number, h: number, mi: number) => new Date(y, mo, d, h, mi).getTime()
    let t = Math.floor(afterMs / 60_000) * 60_000 + 60_000
    const startYear = fields(t, utc).year
    for (let step = 0; step < CRON_SEARCH_STEPS_MAX; step++) {
      const f = fields(t, utc)
      if (f.year > startYear + CRON_SEARCH_YEARS_MAX) return null
      let n: number
      if (!this.months[f.month + 1]) n = make(f.year, f.month + 1, 1, 0, 0)
      else if (!this.dayMatches(f.day, f.weekday)) n = make(f.year, f.month, f.day + 1, 0, 0)
      else if (!this.hours[f.hour]) n = make(f.year, f.month, f.day, f.hour + 1, 0)
      else if (!this.minutes[f.minute]) n = t + 60_000
      else return t
      // Local-time arithmetic can land on an earlier instant around a DST change; time must only move forward.
      t = n > t ? n : t + 60_000
    }
    return null
  }

  private dayMatches(day: number, weekday: number): boolean {
    const dom = this.daysOfMonth[day] === true
    const dow = this.daysOfWeek[weekday] === true
    if (!this.domStar && !this.dowStar) return dom || dow
    return dom && dow
  }
}

function fields(t: number, utc: boolean) {
  const d = new Date(t)
  return utc
    ? {
        year: d.getUTCFullYear(),
        month: d.getUTCMonth(),
        day: d.getUTCDate(),
        hour: d.getUTCHours(),
        minute: d.getUTCMinutes(),
        weekday: d.getUTCDay(),
      }
    : {
        year: d.getFullYear(),
        month: d.getMonth(),
        day: d.getDate(),
        hour: d.getHours(),
        minute: d.getMinutes(),
        weekday: d.getDay(),
      }
}

function parseField(token: string, spec: FieldSpec, bad: (why: string) => never): boolean[] {
  const set: boolean[] = new Array(spec.max + 1).fill(false)
  const where = `${spec.name} field ${JSON.stringify(token)}`
  const value = (s: string): number => {
    if (/^[0-9]{1,4}$/.test(s)) {
      const v = Number(s)
      if (v < spec.min || v > spec.max) bad(`has ${where} with ${v}; expected ${spec.min}-${spec.max}`)
      return v
    }
    const idx = spec.names?.indexOf(s.toUpperCase()) ?? -1
    if (idx < 0) {
      const names = spec.names ? ` or ${spec.names[0]}..${spec.names[spec.names.length - 1]}` : ''
      bad(`has ${where} with ${JSON.stringify(s)}; expected a number ${spec.min}-${spec.max}${names}`)
    }
    return idx + spec.min
  }
  for (const item of token.split(',')) {
    if (item === '') bad(`has ${where} with an empty list item`)
    const slash = item.split('/')
    if (slash.length > 2) bad(`has ${where} with more than one '/'`)
    const [range, stepText] = slash as [string, string | undefined]
    let step = 1
    if (stepText !== undefined) {
      if (!/^[0-9]{1,4}$/.test(stepText) || Number(stepText) < 1)
        bad(`has ${where} with step ${JSON.stringify(stepText)}; expected a whole number ≥ 1`)
      step = Number(stepText)
    }
    let lo: number
    let hi: number
    if (range === '*') {
      lo = spec.min
      hi = spec.max
    } else {
      const dash = range.split('-')
      if (dash.length > 2 || dash.some((p) => p === ''))
        bad(`has ${where} with range ${JSON.stringify(range)}; expected N or N-M`)
      lo = value(dash[0]!)
      // `N/STEP` runs from N to the field's maximum, as in Vixie cron.
      hi = dash.length === 2 ? value(dash[1]!) : stepText !== undefined ? spec.max : lo
      if (lo > hi) bad(`has ${where} with range ${lo}-${hi}; expected the start not after the end`)
    }
    for (let v = lo; v <= hi; v += step) set[v] = true
  }
  return set
}
