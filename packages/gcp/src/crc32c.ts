import crc32cTable from 'crc-32/crc32c.js';

/** CRC32C (Castagnoli) of `bytes` as an unsigned integer: the checksum Cloud KMS's *_crc32c fields carry. */
export function crc32c(bytes: Uint8Array): number {
  return crc32cTable.buf(bytes) >>> 0;
}

/** Whether an Int64Value the client returned (a string, number or Long) holds `expected`. */
export function sameChecksum(
  field: { value?: number | string | { toString(): string } | null } | null | undefined,
  expected: number,
): boolean {
  const value = field?.value;
  return value !== undefined && value !== null && Number(value.toString()) === expected;
}
