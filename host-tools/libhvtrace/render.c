/* hvlog's plain-text rendering of trace records, in C (host only): the
 * same lines as hvtools/hvlog/render.py's Renderer.plain() for a Record,
 *
 *   <clock label> cpuN* NAME arg=value ...  #seq
 *
 * with the names, formats, name tables, symbols and filters that hvtools
 * hands over at start (hvt_fmt_*), and hvlog's Clock (clock.py) kept in
 * step by the caller. tests/host/test_render_interop.py proves the output
 * equal to the Python renderer's, byte for byte. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

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

void hvt_fmt_free(struct hvt_fmt *f)
{
    if (!f)
        return;
    for (unsigned id = 0; id < NIDS; id++) {
        free(f->ev_name[id]);
        for (unsigned i = 0; i < WIRE_MAX_ARGS; i++)
            free(f->arg_name[id][i]);
    }
    for (unsigned t = 0; t < NTABLES; t++)
        for (unsigned k = 0; k < TABLE_N; k++)
            free(f->table[t][k]);
    for (size_t i = 0; i < f->nsyms; i++)
        free(f->sym_name[i]);
    free(f->sym_name);
    free(f->sym_addr);
    free(f->sym_size);
    lines_free(f->lines);
    free(f->outs.all.buf);
    free(f->outs.shown.buf);
    free(f);
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

void hvt_fmt_filter(struct hvt_fmt *f, unsigned trace, unsigned console,
                    const uint8_t *cpu_ok, const uint8_t *id_ok, unsigned boot_id,
                    unsigned text_id)
{
    f->trace = (uint8_t)trace;
    f->console = (uint8_t)console;
    memcpy(f->cpu_ok, cpu_ok, sizeof(f->cpu_ok));
    memcpy(f->id_ok, id_ok, sizeof(f->id_ok));
    f->boot_id = boot_id;
    f->text_id = text_id;
}

/* ---- formatting ------------------------------------------------------------ */

void put(struct out *o, const char *s, size_t n)
{
    if (!o->on)
        return;
    if (o->len + n > o->cap) {
        if (o->fixed) {
            n = o->cap - o->len;
        } else {
            size_t cap = 2 * (o->len + n) + 4096;
            char *b = realloc(o->buf, cap);
            if (!b)
                return;
            o->buf = b;
            o->cap = cap;
        }
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

void putf(struct out *o, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

struct outs *outs_begin(struct hvt_fmt *f, int all, int shown)
{
    f->outs.all.len = f->outs.shown.len = 0;
    f->outs.all.on = (uint8_t)(all != 0);
    f->outs.shown.on = (uint8_t)(shown != 0);
    return &f->outs;
}

/* The text of the last call: 0 every item, 1 the shown ones. */
const char *hvt_out(const struct hvt_fmt *f, int which, size_t *len)
{
    const struct out *o = which ? &f->outs.shown : &f->outs.all;
    *len = o->len;
    return o->buf ? o->buf : "";
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

void put_dec(struct out *o, uint64_t v)
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

/* printf("%*.1f", width, x) without printf: x * 10 is exact in x87's
 * 64-bit mantissa (53 + 4 bits), and rintl rounds half to even as the
 * exact decimal conversion does; huge values go to snprintf. */
static void put_fixed1(struct out *o, double x, int width)
{
    long double t = rintl((long double)x * 10.0L);
    char b[32], *p = b + sizeof b;
    uint64_t v;
    int neg = signbit(x) != 0;

    if (!(fabsl(t) < 1e17L)) {
        putf(o, "%*.1f", width, x);
        return;
    }
    v = (uint64_t)fabsl(t);
    *--p = (char)('0' + v % 10);
    *--p = '.';
    v /= 10;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        *--p = '-';
    for (int n = (int)(b + sizeof b - p); n < width; n++)
        put(o, " ", 1);
    put(o, p, (size_t)(b + sizeof b - p));
}

/* Clock.label: Python's tsc - t0 is exact, so keep the sign apart. */
void put_label(const struct hvt_clock *ck, struct out *o, uint64_t tsc)
{
    int neg = tsc < ck->t0;
    uint64_t mag = neg ? ck->t0 - tsc : tsc - ck->t0;
    double us = (neg ? -(double)mag : (double)mag) * 1000.0;

    if (ck->khz && ck->calibrated) {
        put_fixed1(o, us / (double)ck->khz, 12);
        puts_(o, "us");
    } else if (ck->khz) {
        put_fixed1(o, us / (double)ck->khz, 11);
        puts_(o, "us?");
    } else {
        char num[24];
        snprintf(num, sizeof num, "%s%llu", neg ? "-" : "", (unsigned long long)mag);
        putf(o, "%12scy", num);
    }
}

/* catalog.py's arg_text for exitn: REASON=count (exitN=count unnamed). */
static void put_exitn(const struct hvt_fmt *f, struct out *o, uint64_t v)
{
    unsigned reason = (unsigned)(v & 0xffff);
    const char *name = NULL;

    for (unsigned t = 0; t < NTABLES && !name; t++)
        if (f->exit_mode[t] && reason < TABLE_N)
            name = f->table[t][reason];
    if (name) {
        puts_(o, name);
    } else {
        puts_(o, "exit");
        put_dec(o, reason);
    }
    puts_(o, "=");
    put_dec(o, v >> 16);
}

static void put_record(const struct hvt_fmt *f, const struct hvt_clock *ck,
                       struct out *o, const struct tdec_item *it)
{
    unsigned id = it->id;

    unsigned shown = 0;

    put_label(ck, o, it->tsc);
    puts_(o, " cpu");
    put_dec(o, it->cpu);
    puts_(o, it->type == FRAME_FLIGHT ? "~ " : "* ");   /* flight recorder dump */
    puts_(o, f->ev_name[id]);
    puts_(o, " ");
    for (unsigned i = 0; i < it->nargs && i < f->ev_nargs[id]; i++) {
        if (f->arg_fmt[id][i] == FMT_EXITN && !it->args[i])
            continue;
        if (shown++)
            puts_(o, " ");
        if (f->arg_fmt[id][i] == FMT_EXITN) {
            put_exitn(f, o, it->args[i]);
            continue;
        }
        puts_(o, f->arg_name[id][i]);
        puts_(o, "=");
        put_value(f, o, f->arg_fmt[id][i], it->args[i]);
    }
    puts_(o, "  #");
    put_dec(o, it->seq);
    puts_(o, "\n");
}

/* Render n record items (lossless; ring losses were shown by the caller):
 * trace records as lines of their own, console text (whose bytes are in
 * arena) into its CPU's line (lines.c). Every item goes into the "all"
 * output (decoded.log), the ones the filter accepts into "shown" (the live
 * view), each if asked; hvt_out() reads them. Each record first moves the
 * clock (t0; the BOOT event's tsc_khz), as LiveDecoder does. */
void hvt_render(struct hvt_fmt *f, struct hvt_clock *ck, const struct tdec_item *items,
                size_t n, const uint8_t *arena, int all, int shown)
{
    struct outs *o = outs_begin(f, all, shown);

    for (size_t i = 0; i < n; i++) {
        const struct tdec_item *it = &items[i];
        if (it->id == f->text_id) {
            lines_add(f, ck, o, it, arena + it->data_off);
            continue;
        }
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
        put_record(f, ck, &o->all, it);
        if (f->trace && f->cpu_ok[it->cpu] && f->id_ok[it->id])
            put_record(f, ck, &o->shown, it);
    }
}
