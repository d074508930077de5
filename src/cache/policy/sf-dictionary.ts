/**
 * A Structured Field Dictionary parser (RFC 8941 §4.2.2), just enough for targeted cache-control
 * fields such as CDN-Cache-Control (RFC 9213 §2.1), which are Dictionaries.
 *
 * One leniency: keys are matched case-insensitively (RFC 8941 keys are lower-case only) because
 * cache directives have always been case-insensitive and origins copy them from Cache-Control.
 */

export type SfBare =
  | { t: 'int'; v: number }
  | { t: 'dec'; v: number }
  | { t: 'str'; v: string }
  | { t: 'tok'; v: string }
  | { t: 'bin'; v: string }
  | { t: 'bool'; v: boolean };

export type SfMember = SfBare | { t: 'list'; v: SfBare[] };

class Fail extends Error {}

/** The members in order (a repeated key keeps its last value, as RFC 8941 requires), or null when the field does not parse. */
export function parseSfDictionary(input: string): Map<string, SfMember> | null {
  const p = new Parser(input);
  try {
    return p.dictionary();
  } catch (e) {
    if (e instanceof Fail) return null;
    throw e;
  }
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  dictionary(): Map<string, SfMember> {
    const out = new Map<string, SfMember>();
    this.sp();
    while (this.i < this.s.length) {
      const key = this.key();
      let member: SfMember;
      if (this.peek() === 61 /* = */) {
        this.i++;
        member = this.peek() === 40 /* ( */ ? this.innerList() : this.item();
      } else {
        member = { t: 'bool', v: true };
        this.params();
      }
      out.delete(key); // RFC 8941: a later duplicate overwrites (and moves) the earlier one
      out.set(key, member);
      this.ows();
      if (this.i >= this.s.length) return out;
      if (this.peek() !== 44 /* , */) throw new Fail();
      this.i++;
      this.ows();
      if (this.i >= this.s.length) throw new Fail(); // trailing comma
    }
    return out;
  }

  private peek(): number {
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }

  private sp(): void {
    while (this.peek() === 32) this.i++;
  }

  private ows(): void {
    for (let c = this.peek(); c === 32 || c === 9; c = this.peek()) this.i++;
  }

  private key(): string {
    const start = this.i;
    let c = this.peek();
    if (!(isAlpha(c) || c === 42)) throw new Fail();
    while (isAlpha(c) || isDigit(c) || c === 95 || c === 45 || c === 46 || c === 42) {
      this.i++;
      c = this.peek();
    }
    return this.s.slice(start, this.i).toLowerCase();
  }

  private params(): void {
    while (this.peek() === 59 /* ; */) {
      this.i++;
      this.sp();
      this.key();
      if (this.peek() === 61) {
        this.i++;
        this.bare();
      }
    }
  }

  private item(): SfBare {
    const v = this.bare();
    this.params();
    return v;
  }

  private innerList(): SfMember {
    this.i++; // (
    const items: SfBare[] = [];
    for (;;) {
      this.sp();
      const c = this.peek();
      if (c === 41 /* ) */) {
        this.i++;
        this.params();
        return { t: 'list', v: items };
      }
      if (c === -1) throw new Fail();
      items.push(this.item());
      const n = this.peek();
      if (n !== 32 && n !== 41) throw new Fail();
    }
  }

  private bare(): SfBare {
    const c = this.peek();
    if (c === 45 || isDigit(c)) return this.number();
    if (c === 34) return this.string();
    if (c === 42 || isAlpha(c)) return this.token();
    if (c === 58) return this.bytes();
    if (c === 63) return this.boolean();
    throw new Fail();
  }

  private number(): SfBare {
    const start = this.i;
    if (this.peek() === 45) this.i++;
    let intDigits = 0;
    let fracDigits = -1;
    for (let c = this.peek(); ; c = this.peek()) {
      if (isDigit(c)) {
        if (fracDigits >= 0) fracDigits++;
        else intDigits++;
        this.i++;
      } else if (c === 46 && fracDigits < 0) {
        if (intDigits === 0 || intDigits > 12) throw new Fail();
        fracDigits = 0;
        this.i++;
      } else break;
    }
    if (intDigits === 0) throw new Fail();
    const text = this.s.slice(start, this.i);
    if (fracDigits < 0) {
      if (intDigits > 15) throw new Fail();
      return { t: 'int', v: Number(text) };
    }
    if (fracDigits < 1 || fracDigits > 3) throw new Fail();
    return { t: 'dec', v: Number(text) };
  }

  private string(): SfBare {
    this.i++; // "
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === -1) throw new Fail();
      this.i++;
      if (c === 92) {
        const n = this.peek();
        if (n !== 34 && n !== 92) throw new Fail();
        out += String.fromCharCode(n);
        this.i++;
      } else if (c === 34) {
        return { t: 'str', v: out };
      } else if (c < 0x20 || c > 0x7e) {
        throw new Fail();
      } else {
        out += String.fromCharCode(c);
      }
    }
  }

  private token(): SfBare {
    const start = this.i;
    this.i++;
    for (let c = this.peek(); c !== -1 && (isTchar(c) || c === 58 || c === 47); c = this.peek()) this.i++;
    return { t: 'tok', v: this.s.slice(start, this.i) };
  }

  private bytes(): SfBare {
    this.i++; // :
    const start = this.i;
    for (let c = this.peek(); c !== 58; c = this.peek()) {
      if (c === -1 || !(isAlpha(c) || isDigit(c) || c === 43 || c === 47 || c === 61)) throw new Fail();
      this.i++;
    }
    const v = this.s.slice(start, this.i);
    this.i++;
    return { t: 'bin', v };
  }

  private boolean(): SfBare {
    this.i++; // ?
    const c = this.peek();
    if (c !== 48 && c !== 49) throw new Fail();
    this.i++;
    return { t: 'bool', v: c === 49 };
  }
}

function isAlpha(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isTchar(c: number): boolean {
  return isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}
