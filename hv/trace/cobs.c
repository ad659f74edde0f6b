/* COBS encoder/decoder over whole buffers; see cobs.h for the format. The
 * byte-at-a-time decoder lives in frame.c (frame_rx_push). */
#include "cobs.h"

size_t cobs_encode(uint8_t *dst, size_t cap, const uint8_t *src, size_t len)
{
    size_t out = 0, code_pos = 0, i;
    uint8_t code = 1;

    if (cap < 1)
        return 0;
    out = 1;                     /* placeholder for the first code byte */
    for (i = 0; i < len; i++) {
        if (src[i] == 0) {
            dst[code_pos] = code;
            if (out >= cap)
                return 0;
            code_pos = out++;
            code = 1;
            continue;
        }
        if (out >= cap)
            return 0;
        dst[out++] = src[i];
        if (++code == 0xFF) {
            dst[code_pos] = code;
            if (out >= cap)
                return 0;
            code_pos = out++;
            code = 1;
        }
    }
    dst[code_pos] = code;
    return out;
}

bool cobs_decode(uint8_t *dst, size_t cap, const uint8_t *src, size_t len,
                 size_t *out_len)
{
    size_t i = 0, out = 0;

    while (i < len) {
        uint8_t code = src[i++];
        size_t n;

        if (code == 0)
            return false;
        n = (size_t)code - 1;
        if (n > len - i || n > cap - out)
            return false;
        for (; n; n--) {
            uint8_t b = src[i++];
            if (b == 0)
                return false;
            dst[out++] = b;
        }
        if (code != 0xFF && i < len) {
            if (out >= cap)
                return false;
            dst[out++] = 0;
        }
    }
    *out_len = out;
    return true;
}
