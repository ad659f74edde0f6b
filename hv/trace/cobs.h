/* COBS (Consistent Overhead Byte Stuffing): turns any byte string into one
 * without 0x00 bytes, so 0x00 can delimit frames on the serial line.
 *
 * Encoding used here (identical in host-tools/hvtools/frame.py):
 *   the data is cut at each 0x00 and after every run of 254 non-zero bytes;
 *   each block is sent as  code = 1 + block length  followed by the block.
 *   code 0xFF means "254 bytes, no zero follows"; any other code means "a
 *   zero follows, unless this is the last block". The encoder always ends
 *   with a (possibly empty, code 0x01) block after a 0xFF block.
 *   Encoded size <= n + n/254 + 1 (COBS_MAX_ENCODED).
 * The decoder accepts the output of any conforming encoder. */
#ifndef HV_TRACE_COBS_H
#define HV_TRACE_COBS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COBS_MAX_ENCODED(n) ((n) + (n) / 254 + 1)

/* Encode src[0..len) into dst. Returns the encoded length (>= 1), or 0 if
 * cap is too small. dst and src must not overlap. No 0x00 is appended. */
size_t cobs_encode(uint8_t *dst, size_t cap, const uint8_t *src, size_t len);

/* Decode src[0..len) (which must contain no 0x00 and no delimiter) into
 * dst. Returns true and sets *out_len on success; false if the input is
 * malformed (contains 0x00, a block runs past the end) or dst is too small. */
bool cobs_decode(uint8_t *dst, size_t cap, const uint8_t *src, size_t len,
                 size_t *out_len);

#endif
