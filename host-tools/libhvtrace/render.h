/* libhvtrace's renderer (host only): what render.c (trace records) and
 * lines.c (console lines) share. */
#ifndef HVTRACE_RENDER_H
#define HVTRACE_RENDER_H
#include <stddef.h>
#include <stdint.h>

#include "trace/decode.h"

#define NIDS     1024           /* 32 classes x 32 ids */
#define NTABLES  16
#define TABLE_N  256            /* every name table's keys are < 256 */
#define NAME_MAX_OUT 200        /* longest symbol name printed */

/* FMT_EXITN: count << 16 | exit reason, shown as REASON=count (0: left
 * out); the exit table is the one marked exit_mode. */
enum { FMT_X = 0, FMT_D = 1, FMT_SYM = 2, FMT_EXITN = 3, FMT_TABLE0 = 4 };

/* An output that grows as needed (fixed: a caller's buffer, clamped);
 * on == 0: nothing is written. */
struct out {
    char *buf;
    size_t len, cap;
    uint8_t on, fixed;
};

/* The two outputs of one render call: every item (decoded.log) and those
 * the filter accepts (the live view); either may be off. */
struct outs {
    struct out all, shown;
};

struct hvt_fmt {
    char *ev_name[NIDS];
    uint8_t ev_nargs[NIDS];
    char *arg_name[NIDS][WIRE_MAX_ARGS];
    uint8_t arg_fmt[NIDS][WIRE_MAX_ARGS];
    char *table[NTABLES][TABLE_N];
    uint8_t exit_mode[NTABLES];
    size_t nsyms;
    uint64_t *sym_addr, *sym_size, sym_end;
    char **sym_name;
    uint8_t trace, cpu_ok[256], id_ok[NIDS];
    uint32_t boot_id, text_id;
    uint8_t console;                /* console lines shown */
    struct hvt_lines *lines;        /* lines.c */
    struct outs outs;               /* the last call's text (hvt_out) */
};

/* hvlog's Clock (clock.py): t0 = the first tsc seen, khz, calibrated. */
struct hvt_clock {
    uint64_t t0, khz;
    uint32_t has_t0, calibrated;
};

void put(struct out *o, const char *s, size_t n);
void puts_(struct out *o, const char *s);
void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void put_dec(struct out *o, uint64_t v);
void put_label(const struct hvt_clock *ck, struct out *o, uint64_t tsc);

/* Start a call's outputs: emptied, on as asked. */
struct outs *outs_begin(struct hvt_fmt *f, int all, int shown);
void lines_free(struct hvt_lines *ls);
/* lines.c: one console text record into its CPU's line (its records'
 * frame type counts the lines it completes). */
void lines_add(struct hvt_fmt *f, struct hvt_clock *ck, struct outs *o,
               const struct tdec_item *it, const uint8_t *text);

#endif
