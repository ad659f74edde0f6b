/* Console lines for hvlog's fast path: each CPU's console text records
 * assembled into lines and rendered, exactly as hvtools/stream.py's _Lines
 * and hvlog/render.py do it (a line starts with the time of the record
 * that began it; a mark where bytes were lost; '+' continues a line shown
 * early by idle(), '!' a line with lost bytes).
 *
 * A line of printable ASCII is rendered here. Any other line (UTF-8, control
 * bytes) goes to Python as a segment "\0<n>:<prefix><m>:<raw>" in the
 * output, which hvtools.native.Formatter renders as Python would:
 * (prefix + raw.decode("utf-8", "replace")).rstrip(). */
#include <stdlib.h>
#include <string.h>

#include "render.h"

struct line {
    char *buf;
    size_t len, cap;
    uint64_t tsc;
    uint8_t has_tsc, cont, lost, known;
};

struct hvt_lines {
    struct line cpu[256];
    uint8_t order[256];             /* CPUs in first-seen order (flushes) */
    unsigned norder;
    uint64_t counts[3][256];        /* lines: [CONSOLE frame, TRACE frame, finish] */
    uint8_t any;                    /* a count is not zero */
};

static struct hvt_lines *state(struct hvt_fmt *f)
{
    if (!f->lines)
        f->lines = calloc(1, sizeof(*f->lines));
    return f->lines;
}

static struct line *line_of(struct hvt_lines *ls, unsigned cpu)
{
    struct line *l = &ls->cpu[cpu & 255];
    if (!l->known) {
        l->known = 1;
        ls->order[ls->norder++] = (uint8_t)cpu;
    }
    return l;
}

static void append(struct line *l, const void *p, size_t n)
{
    if (!n)
        return;
    if (l->len + n > l->cap) {
        l->cap = (l->len + n) * 2 + 64;
        l->buf = realloc(l->buf, l->cap);
    }
    memcpy(l->buf + l->len, p, n);
    l->len += n;
}

static int simple(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] < 0x20 && s[i] != '\t') || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static void put_line(struct out *o, const char *prefix, size_t np, const char *raw,
                     size_t n, int easy)
{
    if (!o->on)
        return;
    if (easy) {
        while (n && (raw[n - 1] == ' ' || raw[n - 1] == '\t'))
            n--;
        put(o, prefix, n ? np : np - 1);    /* rstrip: "cpu0| " -> "cpu0|" */
        put(o, raw, n);
        put(o, "\n", 1);
        return;
    }
    put(o, "", 1);                          /* "\0": a segment for Python */
    put_dec(o, np);
    put(o, ":", 1);
    put(o, prefix, np);
    put_dec(o, n);
    put(o, ":", 1);
    put(o, raw, n);
}

/* _Lines._line + LiveDecoder._handle for one Line item. */
static void emit(struct hvt_fmt *f, struct hvt_clock *ck, struct outs *o, unsigned cpu,
                 struct line *l, const char *raw, size_t n, int partial)
{
    char prefix[64];
    struct out p = { prefix, 0, sizeof prefix, 1, 1 };

    while (n && raw[n - 1] == '\r')
        n--;
    if (l->has_tsc && !ck->has_t0) {
        ck->t0 = l->tsc;
        ck->has_t0 = 1;
    }
    if (l->has_tsc)
        put_label(ck, &p, l->tsc);
    else
        puts_(&p, "              ");
    puts_(&p, " cpu");
    put_dec(&p, cpu);
    puts_(&p, l->lost ? "! " : l->cont ? "+ " : "| ");
    put_line(&o->all, prefix, p.len, raw, n, simple(raw, n));
    if (f->console && f->cpu_ok[cpu & 255])
        put_line(&o->shown, prefix, p.len, raw, n, simple(raw, n));
    l->cont = (uint8_t)partial;
    l->lost = 0;
}

void lines_add(struct hvt_fmt *f, struct hvt_clock *ck, struct outs *o,
               const struct tdec_item *it, const uint8_t *text)
{
    struct hvt_lines *ls = state(f);
    struct line *l = line_of(ls, it->cpu);
    const char *s = (const char *)text, *nl;
    size_t n = it->data_len;
    int k = it->type == FRAME_CONSOLE ? 0 : 1;

    if (!l->len) {
        l->tsc = it->tsc;
        l->has_tsc = 1;
    }
    while ((nl = memchr(s, '\n', n)) != NULL) {
        size_t m = (size_t)(nl - s);
        if (l->len) {
            append(l, s, m);
            emit(f, ck, o, it->cpu, l, l->buf, l->len, 0);
            l->len = 0;
        } else {
            emit(f, ck, o, it->cpu, l, s, m, 0);
        }
        ls->counts[k][it->cpu]++;
        ls->any = 1;
        l->tsc = it->tsc;
        l->has_tsc = 1;
        s = nl + 1;
        n -= m + 1;
    }
    append(l, s, n);
    if (!l->len)
        l->has_tsc = 0;
}

/* _Lines.mark: bytes are missing here. */
void hvt_lines_mark(struct hvt_fmt *f, unsigned cpu, const char *marker)
{
    struct line *l = line_of(state(f), cpu);
    append(l, marker, strlen(marker));
    l->lost = 1;
}

/* _Lines.flush of every CPU, in first-seen order (idle: partial, finish:
 * final, counted). Outputs as hvt_render's. */
void hvt_lines_flush(struct hvt_fmt *f, struct hvt_clock *ck, int partial, int all,
                     int shown)
{
    struct hvt_lines *ls = state(f);
    struct outs *o = outs_begin(f, all, shown);

    for (unsigned i = 0; i < ls->norder; i++) {
        struct line *l = &ls->cpu[ls->order[i]];
        if (!l->len)
            continue;
        emit(f, ck, o, ls->order[i], l, l->buf, l->len, partial);
        if (!partial) {
            ls->counts[2][ls->order[i]]++;
            ls->any = 1;
        }
        l->len = 0;
        l->has_tsc = 0;
    }
}

/* Lines completed since the last call, as (index, count) pairs where index
 * = which * 256 + cpu, which: 0 CONSOLE frame, 1 TRACE frame, 2 finish;
 * returns the number of pairs (<= 768) and zeroes the counts. */
size_t hvt_lines_counts(struct hvt_fmt *f, uint64_t *pairs)
{
    struct hvt_lines *ls = state(f);
    uint64_t *c = &ls->counts[0][0];
    size_t n = 0;

    if (!ls->any)
        return 0;
    for (size_t i = 0; i < 3 * 256; i++)
        if (c[i]) {
            pairs[2 * n] = i;
            pairs[2 * n + 1] = c[i];
            n++;
            c[i] = 0;
        }
    ls->any = 0;
    return n;
}

void lines_free(struct hvt_lines *ls)
{
    if (!ls)
        return;
    for (unsigned i = 0; i < 256; i++)
        free(ls->cpu[i].buf);
    free(ls);
}
