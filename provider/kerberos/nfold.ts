// n-fold (RFC 3961 §5.1): stretches or shrinks a constant to the cipher's block size for key
// derivation. The input is repeated to lcm(input bits, output bits), each repetition rotated right
// by 13 bits more than the one before, and the output-sized chunks are summed with one's-complement
// (end-around carry) addition. BigInt keeps this a transcription of the definition.

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** n-fold `input` to `outBytes` octets (RFC 3961 §5.1; vectors in Appendix A.1). */
export function nfold(input: Uint8Array, outBytes: number): Buffer {
  if (input.length === 0) throw new RangeError("n-fold of an empty string");
  if (!Number.isInteger(outBytes) || outBytes <= 0) throw new RangeError(`n-fold to ${outBytes} octets`);
  const k = input.length * 8;
  const n = outBytes * 8;
  const lcm = (k * n) / gcd(k, n);
  const bk = BigInt(k);
  const kMask = (1n << bk) - 1n;
  const x = BigInt("0x" + Buffer.from(input).toString("hex"));
  const rotr = (v: bigint, r: number): bigint => {
    const s = BigInt(r % k);
    return s === 0n ? v : ((v >> s) | (v << (bk - s))) & kMask;
  };
  let whole = 0n;
  for (let i = 0; i < lcm / k; i++) whole = (whole << bk) | rotr(x, 13 * i);
  const bn = BigInt(n);
  const nMask = (1n << bn) - 1n;
  let sum = 0n;
  for (let j = lcm / n - 1; j >= 0; j--) {
    sum += (whole >> BigInt(j * n)) & nMask;
    while (sum >> bn) sum = (sum & nMask) + (sum >> bn);
  }
  return Buffer.from(sum.toString(16).padStart(outBytes * 2, "0"), "hex");
}
