// A minimal ASN.1 DER reader and writer (ITU-T X.690 §8 and §10) for the Kerberos structures of
// RFC 4120 §5, which use explicit context tags ([n] wrapping the real value) throughout, so the
// reader hands back the inner element of each [n]. Only definite lengths (DER forbids the others)
// and single-byte tag numbers < 31 are accepted: everything Kerberos defines fits in that.
import { KerberosFormatError } from "./errors";

/** X.690 §8.1.2.2. */
export enum TagClass {
  Universal = 0,
  Application = 1,
  Context = 2,
  Private = 3,
}

/** Universal tag numbers used by RFC 4120 (X.680 §8.4). */
export enum UniversalTag {
  Integer = 2,
  BitString = 3,
  OctetString = 4,
  Sequence = 16,
  IA5String = 22,
  GeneralizedTime = 24,
  GeneralString = 27,
}

export interface DerElement {
  cls: TagClass;
  constructed: boolean;
  tag: number;
  /** The contents octets. */
  content: Buffer;
  /** The whole element, identifier and length included. */
  raw: Buffer;
}

function fail(message: string): never {
  throw new KerberosFormatError("DER", message);
}

/** Reads one element at `offset`; returns it and the offset just past it. */
export function readElement(buf: Buffer, offset = 0): { element: DerElement; next: number } {
  if (offset >= buf.length) fail(`no element at offset ${offset}`);
  const id = buf[offset];
  const cls = (id >> 6) as TagClass;
  const constructed = (id & 0x20) !== 0;
  const tag = id & 0x1f;
  // X.690 §8.1.2.4: tag numbers ≥ 31 use further octets; RFC 4120 never needs them.
  if (tag === 0x1f) fail(`multi-octet tag number at offset ${offset}`);
  let pos = offset + 1;
  if (pos >= buf.length) fail(`truncated length at offset ${pos}`);
  const first = buf[pos++];
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    // X.690 §8.1.3.5 long form; 0x80 (indefinite, §8.1.3.6) is not DER (§10.1).
    const count = first & 0x7f;
    if (count === 0) fail(`indefinite length at offset ${pos - 1}`);
    if (count > 4) fail(`length of ${count} octets at offset ${pos - 1}`);
    if (pos + count > buf.length) fail(`truncated length at offset ${pos}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++];
  }
  const end = pos + length;
  if (end > buf.length) fail(`element at offset ${offset} claims ${length} octets, ${buf.length - pos} remain`);
  return {
    element: { cls, constructed, tag, content: buf.subarray(pos, end), raw: buf.subarray(offset, end) },
    next: end,
  };
}

/** Reads exactly one element that fills `buf`. */
export function readOnly(buf: Buffer): DerElement {
  const { element, next } = readElement(buf, 0);
  if (next !== buf.length) fail(`${buf.length - next} octets after the element`);
  return element;
}

/** The elements inside a constructed element, in order. */
export function children(el: DerElement): DerElement[] {
  if (!el.constructed) fail(`expected a constructed element, got primitive tag ${el.tag}`);
  const out: DerElement[] = [];
  let pos = 0;
  while (pos < el.content.length) {
    const { element, next } = readElement(el.content, pos);
    out.push(element);
    pos = next;
  }
  return out;
}

function describe(cls: TagClass, tag: number): string {
  switch (cls) {
    case TagClass.Application:
      return `[APPLICATION ${tag}]`;
    case TagClass.Context:
      return `[${tag}]`;
    case TagClass.Private:
      return `[PRIVATE ${tag}]`;
    default:
      return UniversalTag[tag] ?? `UNIVERSAL ${tag}`;
  }
}

export function expectTag(el: DerElement, cls: TagClass, tag: number, what: string): DerElement {
  if (el.cls !== cls || el.tag !== tag) {
    fail(`${what}: expected ${describe(cls, tag)}, got ${describe(el.cls, el.tag)}`);
  }
  return el;
}

/** `[APPLICATION n] SEQUENCE {…}` (RFC 4120 §5 messages): the inner SEQUENCE. */
export function unwrapApplication(el: DerElement, tag: number, what: string): DerElement {
  expectTag(el, TagClass.Application, tag, what);
  const inner = children(el);
  if (inner.length !== 1) fail(`${what}: [APPLICATION ${tag}] holds ${inner.length} elements, expected 1`);
  return expectTag(inner[0], TagClass.Universal, UniversalTag.Sequence, what);
}

/** The fields of a SEQUENCE whose members are all explicitly context-tagged: [n] → the inner
 * element. Unknown tags are kept (RFC 4120 §5.1 extensibility); duplicates are refused. */
export class Fields {
  private readonly byTag = new Map<number, DerElement>();

  constructor(seq: DerElement, private readonly what: string) {
    expectTag(seq, TagClass.Universal, UniversalTag.Sequence, what);
    for (const wrapper of children(seq)) {
      if (wrapper.cls !== TagClass.Context) fail(`${what}: member ${describe(wrapper.cls, wrapper.tag)} is not context-tagged`);
      if (this.byTag.has(wrapper.tag)) fail(`${what}: field [${wrapper.tag}] appears twice`);
      const inner = children(wrapper);
      if (inner.length !== 1) fail(`${what}: field [${wrapper.tag}] holds ${inner.length} elements, expected 1`);
      this.byTag.set(wrapper.tag, inner[0]);
    }
  }

  required(tag: number, name: string): DerElement {
    const el = this.byTag.get(tag);
    if (!el) fail(`${this.what}: required field ${name} [${tag}] is missing`);
    return el;
  }

  optional(tag: number): DerElement | undefined {
    return this.byTag.get(tag);
  }
}

/** INTEGER (X.690 §8.3), two's complement, within the safe integer range. */
export function readInteger(el: DerElement, what: string): number {
  expectTag(el, TagClass.Universal, UniversalTag.Integer, what);
  const c = el.content;
  if (c.length === 0) fail(`${what}: empty INTEGER`);
  if (c.length > 6) fail(`${what}: INTEGER of ${c.length} octets is out of range`);
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return c[0] & 0x80 ? v - 256 ** c.length : v;
}

export function readOctetString(el: DerElement, what: string): Buffer {
  expectTag(el, TagClass.Universal, UniversalTag.OctetString, what);
  return el.content;
}

/** KerberosString ::= GeneralString (IA5String) — RFC 4120 §5.2.1; read as UTF-8, which is what
 * Windows and MIT put there in practice. */
export function readKerberosString(el: DerElement, what: string): string {
  if (el.cls !== TagClass.Universal || (el.tag !== UniversalTag.GeneralString && el.tag !== UniversalTag.IA5String)) {
    fail(`${what}: expected GeneralString, got ${describe(el.cls, el.tag)}`);
  }
  return el.content.toString("utf8");
}

/** KerberosTime ::= GeneralizedTime "YYYYMMDDHHMMSSZ" (RFC 4120 §5.2.3). */
export function readKerberosTime(el: DerElement, what: string): Date {
  expectTag(el, TagClass.Universal, UniversalTag.GeneralizedTime, what);
  const s = el.content.toString("latin1");
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) fail(`${what}: "${s}" is not a KerberosTime (YYYYMMDDHHMMSSZ)`);
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, se));
}

/** BIT STRING (X.690 §8.6): the octets after the unused-bits count. */
export function readBitString(el: DerElement, what: string): Buffer {
  expectTag(el, TagClass.Universal, UniversalTag.BitString, what);
  if (el.content.length === 0) fail(`${what}: empty BIT STRING`);
  return el.content.subarray(1);
}

// ----- writer (X.690 §8 / §10): used to build tickets and fixtures in tests -----------------

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const octets: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) octets.unshift(v & 0xff);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

export function encodeElement(cls: TagClass, constructed: boolean, tag: number, content: Uint8Array): Buffer {
  if (tag >= 31) throw new RangeError(`tag ${tag} needs the multi-octet form, which this writer does not do`);
  const id = (cls << 6) | (constructed ? 0x20 : 0) | tag;
  return Buffer.concat([Buffer.from([id]), encodeLength(content.length), content]);
}

export const der = {
  sequence: (...items: Uint8Array[]): Buffer => encodeElement(TagClass.Universal, true, UniversalTag.Sequence, Buffer.concat(items)),
  /** Explicit context tag [n]. */
  context: (tag: number, inner: Uint8Array): Buffer => encodeElement(TagClass.Context, true, tag, inner),
  application: (tag: number, inner: Uint8Array): Buffer => encodeElement(TagClass.Application, true, tag, inner),
  integer(n: number): Buffer {
    if (!Number.isSafeInteger(n)) throw new RangeError(`${n} is not a safe integer`);
    // Minimal two's complement (X.690 §8.3.2).
    const octets: number[] = [];
    let v = n;
    do {
      octets.unshift(((v % 256) + 256) % 256);
      v = Math.floor(v / 256);
    } while (!(v === 0 && (octets[0] & 0x80) === 0) && !(v === -1 && (octets[0] & 0x80) !== 0));
    return encodeElement(TagClass.Universal, false, UniversalTag.Integer, Buffer.from(octets));
  },
  octetString: (b: Uint8Array): Buffer => encodeElement(TagClass.Universal, false, UniversalTag.OctetString, b),
  generalString: (s: string): Buffer => encodeElement(TagClass.Universal, false, UniversalTag.GeneralString, Buffer.from(s, "utf8")),
  generalizedTime(d: Date): Buffer {
    const s = d.toISOString().replace(/[-:T]/g, "").replace(/\.\d{3}Z$/, "Z");
    return encodeElement(TagClass.Universal, false, UniversalTag.GeneralizedTime, Buffer.from(s, "latin1"));
  },
  bitString: (bytes: Uint8Array): Buffer => encodeElement(TagClass.Universal, false, UniversalTag.BitString, Buffer.concat([Buffer.from([0]), bytes])),
};
