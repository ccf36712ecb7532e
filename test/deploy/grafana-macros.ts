/**
 * What Grafana does to a PostgreSQL panel's SQL before it reaches the database: template
 * variables are interpolated first (the frontend), then the datasource's macros are expanded (the
 * backend, grafana/pkg/tsdb/grafana-postgresql-datasource/macros.go). Only what the Dropscope
 * dashboards use is supported; anything else throws, so a new macro cannot slip past the test.
 */

/** A variable's value as Grafana interpolates it into SQL. */
export type VariableValue =
  /** A single-value variable: inserted as is (the dashboards quote it themselves: '$verdict'). */
  | { single: string }
  /** A multi-value selection: each value single-quoted (quotes doubled), joined with commas. */
  | { multi: string[] }
  /** "All" with a custom allValue: the allValue is inserted raw. */
  | { all: true };

export interface QueryContext {
  from: Date;
  to: Date;
  /** Grafana's $__interval for the panel, e.g. '1m'. */
  interval: string;
  variables: Record<string, VariableValue>;
  /** The dashboard's variable definitions, for their allValue. */
  allValues: Record<string, string>;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** '1m' -> 60 (seconds), as Grafana's gtime.ParseInterval reads a macro's interval. */
export function intervalSeconds(interval: string): number {
  const m = /^(\d+)([smhd])$/.exec(interval.trim());
  if (!m) throw new Error(`unsupported interval ${interval}`);
  return Number(m[1]) * UNITS[m[2]];
}

function quote(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** Grafana's RFC 3339 time literal, in UTC, without milliseconds. */
function timeLiteral(d: Date): string {
  return quote(d.toISOString().replace(/\.\d{3}Z$/, 'Z'));
}

function interpolate(sql: string, ctx: QueryContext): string {
  // $__interval is a global variable; the $__ macros are left for the backend step.
  let out = sql.replaceAll('$__interval', ctx.interval);
  out = out.replace(/\$(?!__)(\w+)|\$\{(\w+)\}/g, (whole: string, a?: string, b?: string) => {
    const name = (a ?? b)!;
    const v = ctx.variables[name];
    if (v === undefined) throw new Error(`variable $${name} has no value in the test context`);
    if ('single' in v) return v.single;
    if ('multi' in v) return v.multi.map(quote).join(',');
    const all = ctx.allValues[name];
    if (all === undefined) throw new Error(`variable $${name} is set to All but has no allValue`);
    return all;
  });
  return out;
}

function macroArgs(raw: string): string[] {
  return raw.split(',').map((s) => s.trim());
}

function expandMacros(sql: string, ctx: QueryContext): string {
  return sql.replace(/\$__(\w+)\(([^)]*)\)/g, (_whole: string, name: string, rawArgs: string) => {
    const args = macroArgs(rawArgs);
    switch (name) {
      case 'timeFilter':
        return `${args[0]} BETWEEN ${timeLiteral(ctx.from)} AND ${timeLiteral(ctx.to)}`;
      case 'timeFrom':
        return timeLiteral(ctx.from);
      case 'timeTo':
        return timeLiteral(ctx.to);
      case 'timeGroup':
      case 'timeGroupAlias': {
        // Grafana: floor(extract(epoch from col)/N)*N, aliased "time" by the Alias form.
        const n = intervalSeconds(args[1]);
        const expr = `floor(extract(epoch from ${args[0]})/${n})*${n}`;
        return name === 'timeGroupAlias' ? `${expr} AS "time"` : expr;
      }
      default:
        throw new Error(`unsupported Grafana macro $__${name}`);
    }
  });
}

/** The SQL Grafana would send for `rawSql` in `ctx`. */
export function grafanaSql(rawSql: string, ctx: QueryContext): string {
  const sql = expandMacros(interpolate(rawSql, ctx), ctx);
  const left = /\$\w+|\[\[/.exec(sql);
  if (left) throw new Error(`unexpanded ${left[0]} in: ${sql}`);
  return sql;
}
