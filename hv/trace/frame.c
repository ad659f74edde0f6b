/* Frame encoder (buffer and streaming) and byte-at-a-time decoder; the
 * format is documented in frame.h. */
#include "frame.h"
#include "crc32.h"

static void put_hdr(uint8_t *h, uint8_t type, uint8_t cpu, uint16_t seq)
{
    h[0] = type;
    h[1] = cpu;
    h[2] = (uint8_t)seq;
    h[3] = (uint8_t)(seq >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The body is three pieces (header, payload, crc); this walks them as one
 * virtual byte string so neither encoder copies the payload. */
struct body_view {
    uint8_t hdr[FRAME_HDR_LEN];
    const uint8_t *payload;
    size_t len;
    uint8_t crc[FRAME_CRC_LEN];
};

static inline uint8_t body_at(const struct body_view *v, size_t i)
{
    if (i < FRAME_HDR_LEN)
        return v->hdr[i];
    i -= FRAME_HDR_LEN;
    if (i < v->len)
        return v->payload[i];
    return v->crc[i - v->len];
}

static void body_init(struct body_view *v, uint8_t type, uint8_t cpu,
                      uint16_t seq, const void *payload, size_t len)
{
    uint32_t c;

    put_hdr(v->hdr, type, cpu, seq);
    v->payload = (const uint8_t *)payload;
    v->len = len;
    c = crc32_update(0, v->hdr, FRAME_HDR_LEN);
    c = crc32_update(c, payload, len);
    put_le32(v->crc, c);
}

/* COBS over the virtual body; emits through either a buffer or callback. */
struct sink {
    uint8_t *out;
    size_t cap, n;
    frame_emit_fn emit;
    void *ctx;
};

static inline void sink_put(struct sink *s, uint8_t b)
{
    if (s->emit)
        s->emit(s->ctx, b);
    else
        s->out[s->n] = b;
    s->n++;
}

static void cobs_body(const struct body_view *v, struct sink *s)
{
    size_t total = FRAME_HDR_LEN + v->len + FRAME_CRC_LEN;
    size_t i = 0;

    /* Each block: look ahead for the next zero (or 254 bytes), emit the code
     * then the block. The encoder ends with a block even if empty. */
    for (;;) {
        size_t j = i, n;
        while (j < total && j - i < 254 && body_at(v, j) != 0)
            j++;
        n = j - i;
        sink_put(s, (uint8_t)(n + 1));
        for (; i < j; i++)
            sink_put(s, body_at(v, i));
        if (n == 254) {
            if (i == total) {        /* final 0xFF block: close with 0x01 */
                sink_put(s, 1);
                break;
            }
            continue;
        }
        if (i == total)
            break;
        i++;                         /* skip the zero the code stands for */
        if (i == total) {            /* body ended with a zero */
            sink_put(s, 1);
            break;
        }
    }
    sink_put(s, FRAME_DELIM);
}

size_t frame_encode(uint8_t *out, size_t cap, uint8_t type, uint8_t cpu,
                    uint16_t seq, const void *payload, size_t len)
{
    struct body_view v;
    struct sink s = { out, cap, 0, 0, 0 };
    size_t body = FRAME_HDR_LEN + len + FRAME_CRC_LEN;

    if (len > FRAME_MAX_PAYLOAD || cap < COBS_MAX_ENCODED(body) + 1)
        return 0;
    body_init(&v, type, cpu, seq, payload, len);
    cobs_body(&v, &s);
    return s.n;
}

size_t frame_encode_stream(frame_emit_fn emit, void *ctx, uint8_t type,
                           uint8_t cpu, uint16_t seq, const void *payload,
                           size_t len)
{
    struct body_view v;
    struct sink s = { 0, 0, 0, emit, ctx };

    if (len > FRAME_MAX_PAYLOAD || !emit)
        return 0;
    body_init(&v, type, cpu, seq, payload, len);
    cobs_body(&v, &s);
    return s.n;
}

/* ---- decoding ------------------------------------------------------------ */

void frame_rx_init(struct frame_rx *rx)
{
    __builtin_memset(rx, 0, sizeof(*rx));
}

static void rx_append(struct frame_rx *rx, uint8_t b)
{
    if (rx->len < FRAME_MAX_BODY)
        rx->buf[rx->len++] = b;
    else
        rx->overflow = true;
}

/* Classify a complete body (LONG/COBS already decided by the caller). */
static int check_body(const uint8_t *body, size_t len, struct frame *out)
{
    uint32_t want, got;

    if (len < FRAME_MIN_BODY)
        return FRAME_ERR_SHORT;
    got = crc32_compute(body, len - FRAME_CRC_LEN);
    want = (uint32_t)body[len - 4] | (uint32_t)body[len - 3] << 8 |
           (uint32_t)body[len - 2] << 16 | (uint32_t)body[len - 1] << 24;
    if (got != want)
        return FRAME_ERR_CRC;
    out->type = body[0];
    out->cpu = body[1];
    out->seq = (uint16_t)(body[2] | body[3] << 8);
    out->len = (uint16_t)(len - FRAME_MIN_BODY);
    out->payload = body + FRAME_HDR_LEN;
    return FRAME_ERR_NONE;
}

int frame_rx_push(struct frame_rx *rx, uint8_t byte, struct frame *out)
{
    uint64_t here = rx->pos++;

    if (byte != FRAME_DELIM) {
        if (rx->code_left == 0) {
            if (rx->zero_pending)
                rx_append(rx, 0);
            rx->zero_pending = byte != 0xFF;
            rx->code_left = (uint8_t)(byte - 1);
        } else {
            rx_append(rx, byte);
            rx->code_left--;
        }
        return FRAME_RX_MORE;
    }

    /* delimiter: finish whatever was collected */
    {
        uint64_t flen = here - rx->start;
        int err;
        struct frame f;

        rx->start = rx->pos;
        if (flen == 0)
            return FRAME_RX_MORE;               /* idle fill */
        if (rx->overflow)
            err = FRAME_ERR_LONG;
        else if (rx->code_left)
            err = FRAME_ERR_COBS;
        else
            err = check_body(rx->buf, rx->len, &f);
        rx->len = 0;
        rx->code_left = 0;
        rx->zero_pending = false;
        rx->overflow = false;
        if (err == FRAME_ERR_NONE) {
            rx->frames++;
            if (out)
                *out = f;
            return FRAME_RX_FRAME;
        }
        rx->err = (uint8_t)err;
        rx->err_offset = here - flen;
        rx->err_len = flen;
        rx->errors[err]++;
        rx->bytes_discarded += flen;
        return FRAME_RX_ERROR;
    }
}

int frame_decode(const uint8_t *src, size_t len, uint8_t *body, size_t cap,
                 struct frame *out)
{
    size_t i = 0, n = 0;
    bool overflow = false, cobs_bad = false;

    if (cap > FRAME_MAX_BODY)
        cap = FRAME_MAX_BODY;
    /* Same semantics as frame_rx_push, on a buffer. */
    while (i < len) {
        uint8_t code = src[i++];
        size_t k;
        if (code == 0)
            return FRAME_ERR_COBS;
        for (k = 1; k < code; k++) {
            if (i >= len) {
                cobs_bad = true;
                break;
            }
            if (src[i] == 0)
                return FRAME_ERR_COBS;
            if (n < cap)
                body[n++] = src[i];
            else
                overflow = true;
            i++;
        }
        if (cobs_bad)
            break;
        if (code != 0xFF && i < len) {
            if (n < cap)
                body[n++] = 0;
            else
                overflow = true;
        }
    }
    if (overflow)
        return FRAME_ERR_LONG;
    if (cobs_bad)
        return FRAME_ERR_COBS;
    return check_body(body, n, out);
}

const char *frame_err_name(int err)
{
    switch (err) {
    case FRAME_ERR_NONE:  return "none";
    case FRAME_ERR_LONG:  return "long";
    case FRAME_ERR_COBS:  return "cobs";
    case FRAME_ERR_SHORT: return "short";
    case FRAME_ERR_CRC:   return "crc";
    default:              return "?";
    }
}

const char *frame_type_name(int type)
{
    switch (type) {
    case FRAME_CONTROL: return "control";
    case FRAME_CONSOLE: return "console";
    case FRAME_TRACE:   return "trace";
    case FRAME_GUEST:   return "guest";
    case FRAME_GDB:     return "gdb";
    case FRAME_FLIGHT:  return "flight";
    default:            return "reserved";
    }
}
