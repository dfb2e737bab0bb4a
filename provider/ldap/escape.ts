// Escaping of values spliced into LDAP strings: one function per syntax. Every value that comes
// from a user, a stack file or the directory itself goes through one of these before it becomes
// part of a filter or a DN, so that `*`, `(`, `,` and friends can neither widen a search nor
// address another object.

/**
 * RFC 4515 §3 assertion value: `*`, `(`, `)`, `\` and NUL must be written as `\XX`. We also
 * hex-escape every other control character and every byte of a non-ASCII character's UTF-8 form
 * (allowed by the RFC's `valueencoding`), so the filter string is plain printable ASCII and no
 * server-side charset handling can reinterpret it. A Buffer (a SID, a GUID) is escaped byte by byte.
 */
export function escapeFilterValue(value: string | Buffer): string {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  let out = "";
  for (const b of bytes) {
    const safe = typeof value === "string" && b >= 0x20 && b < 0x7f && b !== 0x2a && b !== 0x28 && b !== 0x29 && b !== 0x5c;
    out += safe ? String.fromCharCode(b) : `\\${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * RFC 4514 §2.4 attribute value inside a DN: `"`, `+`, `,`, `;`, `<`, `>`, `\` are backslash-escaped
 * anywhere, `#` and space at the start, space at the end, NUL as `\00`. `=` is escaped too (allowed by
 * §3 `special`): Active Directory's own DN writer escapes it and some AD tools mis-parse it bare.
 * Other control characters become `\XX`. Non-ASCII stays UTF-8, as AD stores it.
 */
export function escapeDnValue(value: string): string {
  if (value === "") return "";
  let out = "";
  const chars = Array.from(value);
  chars.forEach((c, i) => {
    const code = c.codePointAt(0) ?? 0;
    if ('"+,;<>\\='.includes(c)) out += `\\${c}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, "0")}`;
    else if (i === 0 && (c === "#" || c === " ")) out += `\\${c}`;
    else if (i === chars.length - 1 && c === " ") out += "\\ ";
    else out += c;
  });
  return out;
}
