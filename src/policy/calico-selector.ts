/**
 * Calico selector expressions (projectcalico.org/v3), the subset policies use in practice:
 * `all()`, `global()`, `has(k)`, `k == 'v'`, `k != 'v'`, `k in {'a','b'}`, `k not in {...}`,
 * `k contains 'x'`, `k starts with 'x'`, `k ends with 'x'`, `!`, `&&`, `||`, parentheses.
 * An empty selector is `all()`. Parse errors throw CalicoSelectorError with the position.
 */
import { labelValue, type LabelPredicate, type Labels } from './label-selector.js';

export class CalicoSelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalicoSelectorError';
  }
}

type Token =
  | { t: 'ident'; v: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'end'; pos: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '&&' || two === '||' || two === '==' || two === '!=') {
      out.push({ t: 'op', v: two, pos: i });
      i += 2;
      continue;
    }
    if ('!(){},'.includes(c)) {
      out.push({ t: 'op', v: c, pos: i });
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new CalicoSelectorError(`unterminated string at position ${i}`);
      out.push({ t: 'str', v: src.slice(i + 1, end), pos: i });
      i = end + 1;
      continue;
    }
    const m = /^[A-Za-z0-9_./-]+/.exec(src.slice(i));
    if (!m) throw new CalicoSelectorError(`unexpected character '${c}' at position ${i}`);
    out.push({ t: 'ident', v: m[0], pos: i });
    i += m[0].length;
  }
  out.push({ t: 'end', pos: src.length });
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.i];
  }
  private next(): Token {
    return this.toks[this.i++];
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private expectOp(v: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw new CalicoSelectorError(`expected '${v}' at position ${t.pos}`);
  }
  private expectStr(): string {
    const t = this.next();
    if (t.t !== 'str') throw new CalicoSelectorError(`expected a quoted string at position ${t.pos}`);
    return t.v;
  }

  parse(): LabelPredicate {
    if (this.peek().t === 'end') return () => true;
    const e = this.or();
    const t = this.peek();
    if (t.t !== 'end') throw new CalicoSelectorError(`unexpected token at position ${t.pos}`);
    return e;
  }

  private or(): LabelPredicate {
    const parts = [this.and()];
    while (this.isOp('||')) {
      this.next();
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0] : (l) => parts.some((p) => p(l));
  }

  private and(): LabelPredicate {
    const parts = [this.unary()];
    while (this.isOp('&&')) {
      this.next();
      parts.push(this.unary());
    }
    return parts.length === 1 ? parts[0] : (l) => parts.every((p) => p(l));
  }

  private unary(): LabelPredicate {
    if (this.isOp('!')) {
      this.next();
      const inner = this.unary();
      return (l) => !inner(l);
    }
    if (this.isOp('(')) {
      this.next();
      const inner = this.or();
      this.expectOp(')');
      return inner;
    }
    return this.term();
  }

  private stringSet(): Set<string> {
    this.expectOp('{');
    const values = new Set<string>();
    if (this.isOp('}')) {
      this.next();
      return values;
    }
    values.add(this.expectStr());
    while (this.isOp(',')) {
      this.next();
      values.add(this.expectStr());
    }
    this.expectOp('}');
    return values;
  }

  private term(): LabelPredicate {
    const t = this.next();
    if (t.t !== 'ident') throw new CalicoSelectorError(`expected a label key or function at position ${t.pos}`);
    if ((t.v === 'all' || t.v === 'global') && this.isOp('(')) {
      this.next();
      this.expectOp(')');
      return () => true;
    }
    if (t.v === 'has' && this.isOp('(')) {
      this.next();
      const k = this.next();
      if (k.t !== 'ident') throw new CalicoSelectorError(`expected a label key in has() at position ${k.pos}`);
      this.expectOp(')');
      const key = k.v;
      return (l) => Object.hasOwn(l, key);
    }
    const key = t.v;
    if (this.isOp('==')) {
      this.next();
      const v = this.expectStr();
      return (l) => labelValue(l, key) === v;
    }
    if (this.isOp('!=')) {
      this.next();
      const v = this.expectStr();
      return (l) => labelValue(l, key) !== v;
    }
    const w = this.peek();
    if (w.t === 'ident') {
      if (w.v === 'in') {
        this.next();
        const set = this.stringSet();
        return (l) => {
          const lv = labelValue(l, key);
          return lv !== undefined && set.has(lv);
        };
      }
      if (w.v === 'not') {
        this.next();
        const n = this.next();
        if (n.t !== 'ident' || n.v !== 'in')
          throw new CalicoSelectorError(`expected 'in' after 'not' at position ${n.pos}`);
        const set = this.stringSet();
        return (l) => {
          const lv = labelValue(l, key);
          return lv === undefined || !set.has(lv);
        };
      }
      if (w.v === 'contains') {
        this.next();
        const v = this.expectStr();
        return (l) => labelValue(l, key)?.includes(v) === true;
      }
      if (w.v === 'starts' || w.v === 'ends') {
        this.next();
        const wth = this.next();
        if (wth.t !== 'ident' || wth.v !== 'with')
          throw new CalicoSelectorError(`expected 'with' at position ${wth.pos}`);
        const v = this.expectStr();
        return w.v === 'starts'
          ? (l) => labelValue(l, key)?.startsWith(v) === true
          : (l) => labelValue(l, key)?.endsWith(v) === true;
      }
    }
    throw new CalicoSelectorError(`expected an operator after '${key}' at position ${w.pos}`);
  }
}

/** Compile a Calico selector expression; throws CalicoSelectorError on syntax errors. */
export function compileCalicoSelector(expr: string | undefined): (labels: Labels) => boolean {
  return new Parser(tokenize(expr ?? '')).parse();
}
