/* hvlog's plain-text rendering of trace records, in C (host only): the
 * same lines as hvtools/hvlog/render.py's Renderer.plain() for a Record,
 *
 *   <clock label> cpuN* NAME arg=value ...  #seq
 *
 * with the names, formats, name tables, symbols and filters that hvtools
 * hands over at start (hvt_fmt_*), and hvlog's Clock (clock.py) kept in
 * step by the caller. tests/host/test_render_interop.py proves the output
 * equal to the Python renderer's, byte for byte. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/decode.h"

#define NIDS     1024           /* 32 classes x 32 ids */
#define NTABLES  16
#define TABLE_N  256            /* every name table's keys are < 256 */
#define NAME_MAX_OUT 200        /* longest symbol name printed */

enum { FMT_X = 0, FMT_D = 1, FMT_SYM = 2, FMT_TABLE0 = 3 };

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
    uint32_t boot_id;
};

/* hvlog's Clock (clock.py): t0 = the first tsc seen, khz, calibrated. */
struct hvt_clock {
    uint64_t t0, khz;
    uint32_t has_t0, calibrated;
};

struct hvt_fmt *hvt_fmt_new(void)
{
    struct hvt_fmt *f = calloc(1, sizeof(*f));
    if (f) {
        f->trace = 1;
        memset(f->cpu_ok, 1, sizeof(f->cpu_ok));
        memset(f->id_ok, 1, sizeof(f->id_ok));
        f->boot_id = NIDS;
    }
    return f;
}

void hvt_fmt_event(struct hvt_fmt *f, unsigned id, const char *name, unsigned nargs)
{
    if (id < NIDS && nargs <= WIRE_MAX_ARGS) {
        f->ev_name[id] = strdup(name);
        f->ev_nargs[id] = (uint8_t)nargs;
    }
}

void hvt_fmt_arg(struct hvt_fmt *f, unsigned id, unsigned i, const char *name, unsigned fmt)
{
    if (id < NIDS && i < WIRE_MAX_ARGS) {
        f->arg_name[id][i] = strdup(name);
        f->arg_fmt[id][i] = (uint8_t)fmt;
    }
}

void hvt_fmt_table(struct hvt_fmt *f, unsigned t, unsigned key, const char *name,
                   unsigned exit_mode)
{
    if (t < NTABLES && key < TABLE_N) {
        f->table[t][key] = strdup(name);
        f->exit_mode[t] = (uint8_t)exit_mode;
    }
}

/* Symbols sorted as hvtools' Symbolizer sorts them (addr, size, name);
 * names: n NUL-terminated strings one after another. */
void hvt_fmt_symbols(struct hvt_fmt *f, size_t n, const uint64_t *addr,
                     const uint64_t *size, const char *names, uint64_t end)
{
    f->sym_addr = malloc(n * 8 + 1);
    f->sym_size = malloc(n * 8 + 1);
    f->sym_name = malloc(n * sizeof(char *) + 1);
    memcpy(f->sym_addr, addr, n * 8);
    memcpy(f->sym_size, size, n * 8);
    for (size_t i = 0; i < n; i++) {
        f->sym_name[i] = strdup(names);
        names += strlen(names) + 1;
    }
    f->nsyms = n;
    f->sym_end = end;
}

void hvt_fmt_filter(struct hvt_fmt *f, unsigned trace, const uint8_t *cpu_ok,
                    const uint8_t *id_ok, unsigned boot_id)
{
    f->trace = (uint8_t)trace;
    memcpy(f->cpu_ok, cpu_ok, sizeof(f->cpu_ok));
    memcpy(f->id_ok, id_ok, sizeof(f->id_ok));
    f->boot_id = boot_id;
}

/* ---- formatting ------------------------------------------------------------ */

struct out {
    char *p, *end;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (n > (size_t)(o->end - o->p))
        n = (size_t)(o->end - o->p);
    memcpy(o->p, s, n);
    o->p += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(o->p, (size_t)(o->end - o->p), fmt, ap);
    va_end(ap);
    if (n > 0)
        o->p += (size_t)n < (size_t)(o->end - o->p) ? (size_t)n : (size_t)(o->end - o->p);
}

/* Python's f"{v:#x}" ("0x0" for zero, unlike C's %#x) and str(v). */
static void put_hex(struct out *o, uint64_t v)
{
    char b[18], *p = b + sizeof b;
    do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    *--p = 'x';
    *--p = '0';
    put(o, p, (size_t)(b + sizeof b - p));
}

static void put_dec(struct out *o, uint64_t v)
{
    char b[20], *p = b + sizeof b;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, p, (size_t)(b + sizeof b - p));
}

/* Symbolizer.__call__: the last symbol at or below addr, within its size. */
static void put_sym(const struct hvt_fmt *f, struct out *o, uint64_t v)
{
    size_t lo = 0, hi = f->nsyms, k;

    put_hex(o, v);
    while (lo < hi) {                   /* first index with addr > v */
        size_t mid = (lo + hi) / 2;
        if (f->sym_addr[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || v >= f->sym_end)
        return;
    k = lo - 1;
    if (f->sym_size[k] && v >= f->sym_addr[k] + f->sym_size[k])
        return;
    puts_(o, " <");
    put(o, f->sym_name[k], strnlen(f->sym_name[k], NAME_MAX_OUT));
    if (v != f->sym_addr[k]) {
        puts_(o, "+");
        put_hex(o, v - f->sym_addr[k]);
    }
    puts_(o, ">");
}

static void put_value(const struct hvt_fmt *f, struct out *o, unsigned fmt, uint64_t v)
{
    if (fmt == FMT_D) {
        put_dec(o, v);
    } else if (fmt == FMT_SYM) {
        put_sym(f, o, v);
    } else if (fmt >= FMT_TABLE0 && fmt - FMT_TABLE0 < NTABLES) {
        unsigned t = fmt - FMT_TABLE0;
        uint64_t key = f->exit_mode[t] ? (v & 0xffff) : v;
        const char *name = key < TABLE_N ? f->table[t][key] : NULL;
        if (!name) {
            put_hex(o, v);
            return;
        }
        puts_(o, name);
        if (f->exit_mode[t] && (v & 0x80000000u))
            puts_(o, "|ENTRY_FAIL");
    } else {
        put_hex(o, v);
    }
}

/* Clock.label: Python's tsc - t0 is exact, so keep the sign apart. */
static void put_label(const struct hvt_clock *ck, struct out *o, uint64_t tsc)
{
    int neg = tsc < ck->t0;
    uint64_t mag = neg ? ck->t0 - tsc : tsc - ck->t0;
    double us = (neg ? -(double)mag : (double)mag) * 1000.0;

    if (ck->khz && ck->calibrated) {
        putf(o, "%12.1fus", us / (double)ck->khz);
    } else if (ck->khz) {
        putf(o, "%11.1fus?", us / (double)ck->khz);
    } else {
        char num[24];
        snprintf(num, sizeof num, "%s%llu", neg ? "-" : "", (unsigned long long)mag);
        putf(o, "%12scy", num);
    }
}

static void put_record(const struct hvt_fmt *f, const struct hvt_clock *ck,
                       struct out *o, const struct tdec_item *it)
{
    unsigned id = it->id;

    put_label(ck, o, it->tsc);
    puts_(o, " cpu");
    put_dec(o, it->cpu);
    puts_(o, "* ");
    puts_(o, f->ev_name[id]);
    puts_(o, " ");
    for (unsigned i = 0; i < it->nargs && i < f->ev_nargs[id]; i++) {
        if (i)
            puts_(o, " ");
        puts_(o, f->arg_name[id][i]);
        puts_(o, "=");
        put_value(f, o, f->arg_fmt[id][i], it->args[i]);
    }
    puts_(o, "  #");
    put_dec(o, it->seq);
    puts_(o, "\n");
}

/* Render n TRACE record items (the caller picked them: known ids, no ring
 * loss): every record into all[] (decoded.log) and the ones the filter
 * accepts into shown[] (the live view); either may be NULL; each has room
 * for 2048 bytes per item. Each record first moves the clock (t0; the BOOT
 * event's tsc_khz), as LiveDecoder does. Returns the bytes written to each
 * in lens[0] (all) and lens[1] (shown). */
void hvt_render(const struct hvt_fmt *f, struct hvt_clock *ck,
                const struct tdec_item *items, size_t n, char *all, char *shown,
                size_t cap, size_t lens[2])
{
    struct out a = { all, all ? all + cap : all };
    struct out s = { shown, shown ? shown + cap : shown };

    for (size_t i = 0; i < n; i++) {
        const struct tdec_item *it = &items[i];
        if (!ck->has_t0) {
            ck->t0 = it->tsc;
            ck->has_t0 = 1;
        }
        if (it->id == f->boot_id && it->nargs > 1 && it->args[1]) {
            ck->khz = it->args[1];
            ck->calibrated = 1;
        }
        if (it->id >= NIDS || !f->ev_name[it->id])
            continue;
        if (all)
            put_record(f, ck, &a, it);
        if (shown && f->trace && f->cpu_ok[it->cpu] && f->id_ok[it->id])
            put_record(f, ck, &s, it);
    }
    lens[0] = (size_t)(a.p - all);
    lens[1] = (size_t)(s.p - shown);
}
