/* Stream decoder: received bytes -> frames, frame errors, trace records and
 * link losses, in arrival order. The receiving twin of the drain: frame.c
 * (frame_rx_push) splits the line, wire.c (wire_reader_*) decodes the
 * CONSOLE/TRACE batches; this file adds the per-stream bookkeeping that a
 * receiver needs (FLIGHT frames are batches like TRACE, in their own seq
 * space; a ring loss on them is what the flight recorder overwrote).
 * Portable core (no hypervisor header, no libc): the host's
 * libhvtrace.so (hvlog's fast path) is built from it, and
 * host-tools/hvtools/frame.py + records.py are its reference twin
 * (tests/host/test_decode_interop.py proves they agree item for item).
 *
 * Sequence rules (identical in frame.py's FrameDecoder):
 *   - every (type, cpu) stream numbers its frames from 0 (wrapping at 2^16);
 *     a frame's gap = frames missing in its stream just before it;
 *   - a CONTROL frame with seq 0 is the HELLO of a (re)started hypervisor:
 *     if any stream was seen before it, it is a RESTART (flag on its item)
 *     and every stream's history (frame and record seqs) is forgotten
 *     before anything after it is looked at;
 *   - once such a HELLO was seen, a stream's first frame with seq N has
 *     gap N (its first N frames were lost); before any, the first frame of a
 *     stream has no gap (TDEC_NO_GAP): the capture began mid-stream.
 *
 * Items go into a caller array; variable bytes (GUEST/GDB/CONTROL payloads,
 * console text, the first bytes of a bad frame) go into a caller arena and
 * are referred to by offset. trace_dec_feed stops early when either is
 * nearly full and reports how much input it consumed. */
#ifndef HV_TRACE_DECODE_H
#define HV_TRACE_DECODE_H
#include <stddef.h>
#include <stdint.h>
#include "frame.h"
#include "wire.h"

enum tdec_kind {
    TDEC_FRAME     = 1,     /* a good frame (type, cpu, fseq, gap, flags) */
    TDEC_ERROR     = 2,     /* a bad frame: aux = enum frame_err or TRUNC */
    TDEC_RECORD    = 3,     /* a CONSOLE/TRACE/FLIGHT record of the last frame */
    TDEC_LINK_LOSS = 4,     /* before the first record of a frame with a gap */
    TDEC_BAD_BATCH = 5,     /* the last frame's batch is malformed at aux */
};

#define TDEC_ERR_TRUNCATED  5       /* unterminated tail (trace_dec_finish) */
#define TDEC_NO_GAP         0xffffffffu
#define TDEC_F_RESTART      1u      /* FRAME flags */
#define TDEC_F_BATCH        2u      /* CONSOLE/TRACE/FLIGHT: its records follow */
#define TDEC_KEEP_DATA      256     /* bytes of a bad frame kept */
#define TDEC_ITEM_DATA_MAX  FRAME_MAX_PAYLOAD   /* most arena bytes per item */

/* 120 bytes, no padding holes (host tools read it with one struct format;
 * the static assert in decode.c keeps them in step). */
struct tdec_item {
    uint8_t kind, type, cpu, nargs;
    uint16_t id, fseq;          /* event id; frame seq */
    uint32_t gap;               /* FRAME, LINK_LOSS: frames lost, or NO_GAP */
    uint32_t aux;               /* FRAME: flags; ERROR: kind; BAD_BATCH: byte */
    uint32_t data_off, data_len;/* arena bytes (payload, text, error head) */
    uint32_t has_after;         /* LINK_LOSS: after_seq is known */
    uint32_t reserved;
    uint64_t seq, tsc, lost;    /* RECORD; LINK_LOSS: seq = after, tsc = before */
    uint64_t offset, length;    /* stream offset; ERROR: wire length, FRAME: payload length */
    uint64_t args[WIRE_MAX_ARGS];
};

struct trace_dec {
    struct frame_rx rx;
    uint8_t head[TDEC_KEEP_DATA];   /* raw bytes of the frame being read */
    uint16_t head_len;
    uint8_t session;                /* a CONTROL seq 0 has been seen */
    uint32_t nstreams;              /* streams with a last seq */
    uint16_t last[256][256];        /* [type][cpu] last frame seq */
    uint8_t seen[256][256];
    uint64_t rec_last[3][256];      /* [batch stream][cpu] record seq */
    uint8_t rec_seen[3][256];
    /* counters */
    uint64_t frames, records, frames_lost, restarts, bad_batches;
};

void trace_dec_init(struct trace_dec *d);

/* Decode data[0..len). Returns the number of items written (<= max);
 * *consumed = input bytes used (less than len when items or arena ran out:
 * call again with the rest). arena_cap must be >= 2 * FRAME_MAX_PAYLOAD +
 * TDEC_KEEP_DATA and max >= 3 + FRAME_MAX_PAYLOAD / 2 for progress. */
size_t trace_dec_feed(struct trace_dec *d, const uint8_t *data, size_t len,
                      size_t *consumed, struct tdec_item *items, size_t max,
                      uint8_t *arena, size_t arena_cap, size_t *arena_used);

/* End of stream: an unterminated tail becomes one TRUNCATED error item.
 * Returns the number of items written (0 or 1; max >= 1). */
size_t trace_dec_finish(struct trace_dec *d, struct tdec_item *items, size_t max,
                        uint8_t *arena, size_t arena_cap, size_t *arena_used);

#endif
