// Security identifiers, binary form [MS-DTYP] §2.4.2.2: Revision (1 byte), SubAuthorityCount (1),
// IdentifierAuthority (6, big-endian), then SubAuthorityCount × 4-byte little-endian values.

export function sidToString(b: Buffer): string {
  if (b.length < 8) throw new Error(`a SID is at least 8 bytes, got ${b.length}`);
  const revision = b[0];
  const count = b[1];
  if (b.length !== 8 + 4 * count) throw new Error(`a SID with ${count} sub-authorities is ${8 + 4 * count} bytes, got ${b.length}`);
  const authority = b.readUIntBE(2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(b.readUInt32LE(8 + 4 * i));
  return `S-${revision}-${authority}${subs.map((s) => `-${s}`).join("")}`;
}

export function sidFromString(s: string): Buffer {
  const m = /^S-(\d+)-(\d+)((?:-\d+)*)$/i.exec(s.trim());
  if (!m) throw new Error(`${JSON.stringify(s)} is not a SID such as S-1-5-21-1-2-3-1104`);
  const subs = m[3] ? m[3].slice(1).split("-").map(Number) : [];
  if (subs.length > 15 || subs.some((x) => x > 0xffffffff)) throw new Error(`${JSON.stringify(s)} is not a valid SID`);
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = Number(m[1]);
  b[1] = subs.length;
  b.writeUIntBE(Number(m[2]), 2, 6);
  subs.forEach((x, i) => b.writeUInt32LE(x, 8 + 4 * i));
  return b;
}

