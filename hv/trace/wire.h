/* Trace record encodings.
 *
 * 1. RAW records (what the per-CPU ring stores; fast to write, fixed-ish):
 *
 *      off size
 *      0   2   event id (enum trace_event_id), LE
 *      2   1   nargs (0..WIRE_MAX_ARGS)
 *      3   1   flags: bit0 WIRE_RAW_TEXT
 *      4   4   text length (text records), else 0
 *      8   8   tsc
 *      16  ..  nargs * u64 args, or the text bytes
 *
 *    Text records carry id TEV_CONSOLE_TEXT and go on CONSOLE frames; all
 *    others go on TRACE frames (wire_raw_channel()).
 *
 * 2. BATCH payloads (what a CONSOLE/TRACE frame carries; compact). All
 *    integers are LEB128 varints ("v"), zz() is zigzag (0,-1,1,-2 ->
 *    0,1,2,3). Wire version 2 (version 1 spent a varint on the id and one
 *    on zz(tsc delta) << 3 | flags; no v1 captures are kept anywhere).
 *    Each batch is self-contained (all state below starts afresh), so
 *    losing a frame loses only that frame's records:
 *
 *      v first_seq   v first_tsc   record*
 *
 *    record:
 *      u8 head = idc << 5 | LONG << 4 | dt & 15
 *      [v x]       if idc == 7: x = id << 3 | NEG<<2 | LOST<<1 | SKIP
 *                  else id = ids[idc] (idc < ids used, else malformed)
 *      u8 dt >> 4  if !LONG  (dt < 4096: one byte)
 *      v  dt >> 4  if LONG   (must be < 2^60)
 *      [v skip]    if SKIP:  seq = prev_seq + 1 + skip  (else prev_seq + 1)
 *                  (records that went to the other channel, or were lost)
 *      [v lost]    if LOST:  the ring lost `lost` records just before this
 *      modes:      ceil(nargs/4) bytes, 2 bits per arg, arg 0 in the low
 *                  bits of the first byte (none if nargs == 0)
 *      args:       nargs = catalog_nargs(id) values, each by its mode:
 *                    0: v value                1: v zz(value - reg), push
 *                    2: value == reg (no bytes) 3: u8 k: value = hist[k], push
 *      text:       for TEV_CONSOLE_TEXT instead of modes/args: v len, bytes
 *
 *    tsc = prev_tsc + dt, or prev_tsc - dt if NEG (exact for any 64-bit
 *    step; a batch never has to end for a tsc jump). The first record's
 *    prev_seq is first_seq - 1 and prev_tsc first_tsc.
 *    ids: a table of up to WIRE_IDS event ids; an escape record (idc 7)
 *    whose id is not in it yet appends it while there is room. The encoder
 *    escapes only for a new id or a flag, so a common record starts with
 *    one byte holding its id and the low 4 bits of its tsc step, then one
 *    more byte while the step is under 4096 cycles.
 *    hist: the last WIRE_HIST pushed values, hist[0] the newest; reg =
 *    hist[0] (0 before any push); k must be < min(pushes, WIRE_HIST).
 *    The encoder picks per arg (wire.c plan_arg, and the same in its
 *    Python twin host-tools/hvtools/batch_encoder.py): == reg: 2; in hist
 *    at k >= 1 and longer than a byte as a varint: 3; a shorter delta: 1;
 *    else 0. Recurring values such as hot
 *    guest rips thus cost one byte instead of a 3-4 byte delta.
 *    Why (issue 12): on bench/bench_wire.py's trace events version 1 took
 *    7.16 bytes per event framed: id 1.09, tsc+flags 2.81, modes+args
 *    3.01, batch header 0.11, frame 0.15; version 2 takes 5.65.
 *    Every record is at least 2 bytes (decode.c sizes its items on that).
 *
 * 3. CONTROL HELLO payload (sent once at boot):
 *      u8 op = WIRE_CTL_HELLO | u8 wire version | u8 ncpus | u8 0 |
 *      u32 LE catalogue CRC-32 (crc32 of events.def) | u32 LE tsc kHz (0 =
 *      unknown)
 */
#ifndef HV_TRACE_WIRE_H
#define HV_TRACE_WIRE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "catalog.h"
#include "frame.h"

#define WIRE_VERSION      2
#define WIRE_IDS          7         /* id table slots per batch */
#define WIRE_HIST         32        /* recent arg values per batch (2^n) */
#define WIRE_MAX_ARGS     CATALOG_MAX_ARGS
#define WIRE_MAX_TEXT     256       /* longer text is truncated */
#define WIRE_RAW_HDR      16
#define WIRE_RAW_MAX      (WIRE_RAW_HDR + WIRE_MAX_TEXT)
#define WIRE_RAW_TEXT     0x01
#define WIRE_CTL_HELLO    1
/* Host -> hypervisor CONTROL commands (hvlog sends them):
 *   DUMP_EVENTS  u8 op                  flight recorder: send held events
 *   TRACE_MASK   u8 op | u64 LE mask    enable trace classes (bit per class)
 *   EXIT_STATS   u8 op                  print VM exit counts per CPU and reason
 *   NMI_STORM    u8 op | u32 LE targets | u32 LE interval_us | u32 LE rounds |
 *                u32 LE duration_ms     NMI IPIs from the hypervisor to the
 *                target CPUs (bit per CPU index; 0 stops a storm), one round
 *                each interval (0: at every VM exit), until rounds (0: no
 *                limit) or duration (0: no limit) ends it (hv/nmi/storm.c)
 * Unknown ops are reported on the console and ignored. */
#define WIRE_CTL_DUMP_EVENTS 0x10
#define WIRE_CTL_TRACE_MASK  0x11
#define WIRE_CTL_EXIT_STATS  0x12   /* u8 op: print VM exit counts by reason */
#define WIRE_CTL_NMI_STORM   0x13   /* NMI IPIs to chosen CPUs at a rate */
#define WIRE_NMI_STORM_LEN   17
#define WIRE_HELLO_LEN    12

enum wire_status {
    WIRE_OK     = 0,
    WIRE_EFULL  = -1,   /* does not fit: flush the batch and retry */
    WIRE_EINVAL = -2,   /* unknown event id / malformed raw record */
    WIRE_EBAD   = -3,   /* malformed batch payload (decoder) */
};

/* ---- raw records (ring) -------------------------------------------------- */

/* Returns the record length, or 0 if cap is too small or nargs too big. */
size_t wire_raw_encode(void *buf, size_t cap, uint16_t event_id, uint64_t tsc,
                       const uint64_t *args, unsigned nargs);
/* Text is truncated to WIRE_MAX_TEXT. Returns the length or 0. */
size_t wire_raw_encode_text(void *buf, size_t cap, uint64_t tsc,
                            const char *s, size_t len);

struct wire_raw {
    uint16_t id;
    uint8_t nargs;
    bool text;
    uint64_t tsc;
    uint64_t args[WIRE_MAX_ARGS];
    const char *text_ptr;
    uint32_t text_len;
};
/* Parse a raw record; false if malformed or len too short. */
bool wire_raw_decode(const void *buf, size_t len, struct wire_raw *out);
/* FRAME_CONSOLE for text records, FRAME_TRACE otherwise, -1 if malformed. */
int wire_raw_channel(const void *buf, size_t len);

/* ---- batch encoder (drain) ----------------------------------------------- */

/* Per-batch coding state, the same in the encoder and the reader. */
struct wire_ids {
    uint16_t id[WIRE_IDS];
    uint8_t n;
};

struct wire_hist {
    uint64_t v[WIRE_HIST];
    uint32_t n;         /* values pushed in this batch */
};

struct wire_batch {
    uint8_t *buf;
    size_t cap;         /* <= FRAME_MAX_PAYLOAD normally */
    size_t len;
    uint32_t count;     /* records in the batch */
    uint64_t prev_seq, prev_tsc;
    struct wire_ids ids;
    struct wire_hist hist;
};

void wire_batch_init(struct wire_batch *b, void *buf, size_t cap);
/* Start a new batch in the same buffer (after sending the old one). */
void wire_batch_reset(struct wire_batch *b);
/* Append one record. seq: its ring sequence number; lost: records the ring
 * lost right before it (0 normally). Returns WIRE_OK, WIRE_EFULL (batch
 * unchanged: send it, reset, add again) or WIRE_EINVAL. */
int wire_batch_add_event(struct wire_batch *b, uint64_t seq, uint64_t lost,
                         uint16_t id, uint64_t tsc, const uint64_t *args,
                         unsigned nargs);
int wire_batch_add_text(struct wire_batch *b, uint64_t seq, uint64_t lost,
                        uint64_t tsc, const char *s, size_t len);
int wire_batch_add_raw(struct wire_batch *b, uint64_t seq, uint64_t lost,
                       const void *raw, size_t rawlen);

/* ---- batch decoder ---------------------------------------------------------- */

struct wire_record {
    uint16_t id;
    uint8_t nargs;
    uint64_t seq, tsc, lost;
    uint64_t args[WIRE_MAX_ARGS];
    const uint8_t *text;    /* points into the payload */
    uint32_t text_len;
};

struct wire_reader {
    const uint8_t *p, *end;
    uint64_t prev_seq, prev_tsc;
    struct wire_ids ids;
    struct wire_hist hist;
    bool started, failed;
};

/* Returns WIRE_OK (an empty payload is a valid empty batch) or WIRE_EBAD. */
int wire_reader_init(struct wire_reader *r, const void *payload, size_t len);
/* 1: *rec filled; 0: end of batch; WIRE_EBAD: malformed (stays failed). */
int wire_reader_next(struct wire_reader *r, struct wire_record *rec);

/* ---- control ----------------------------------------------------------------- */

/* Returns WIRE_HELLO_LEN or 0 if cap is too small. */
size_t wire_hello_encode(void *buf, size_t cap, uint32_t catalog_crc,
                         uint8_t ncpus, uint32_t tsc_khz);

/* ---- varints (exposed for tests and other encoders) ---------------------- */

/* Writes at most 10 bytes; returns bytes written or 0 if cap too small. */
size_t wire_put_varint(uint8_t *p, size_t cap, uint64_t v);
/* Returns bytes consumed or 0 if truncated / longer than 64 bits. */
size_t wire_get_varint(const uint8_t *p, size_t len, uint64_t *v);
size_t wire_varint_len(uint64_t v);

#endif
