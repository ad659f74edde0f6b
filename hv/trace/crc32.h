/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit-exact with
 * zlib.crc32 / binascii.crc32 in Python.
 *
 * Portable core: compiles freestanding into the hypervisor and hosted into
 * tests. Running use:  c = crc32_update(0, a, na); c = crc32_update(c, b, nb);
 * gives the same value as crc32_compute() over a||b. */
#ifndef HV_TRACE_CRC32_H
#define HV_TRACE_CRC32_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: `crc` is a previous result (0 to start). */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

/* CRC of one buffer; equal to zlib.crc32(data). */
uint32_t crc32_compute(const void *data, size_t len);

#endif
