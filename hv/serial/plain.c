/* Plain-text rendering of console and trace records (serial_mode=plain). */
#include <string.h>
#include <fmt.h>
#include <percpu.h>
#include "serial/plain.h"
#include "serial/uart.h"

static bool at_line_start[MAX_CPUS];

void plain_reset(void)
{
    for (uint32_t i = 0; i < MAX_CPUS; i++)
        at_line_start[i] = true;
}

void plain_text(uint32_t cpu, const char *s, size_t n)
{
    char prefix[16];
    for (size_t i = 0; i < n; i++) {
        if (at_line_start[cpu]) {
            int len = snprintf(prefix, sizeof(prefix), "[cpu%u] ", cpu);
            uart_write(prefix, len);
            at_line_start[cpu] = false;
        }
        if (s[i] == '\n') {
            uart_putc('\r');
            at_line_start[cpu] = true;
        }
        uart_putc(s[i]);
    }
}

static const char *const *event_arg_specs(unsigned id)
{
    switch (id) {
#define TRACE_CLASS(bit, name, desc)
#define TRACE_EVENT(id, name, cls, ...) \
    case (id): { static const char *const a[] = { NULL, ##__VA_ARGS__ }; return a + 1; }
#include "trace/events.def"
#undef TRACE_CLASS
#undef TRACE_EVENT
    default: return NULL;
    }
}

static size_t format_args(char *line, size_t n, size_t cap, const struct wire_raw *w)
{
    const char *const *specs = event_arg_specs(w->id);
    for (unsigned i = 0; specs && i < w->nargs && n < cap; i++) {
        const char *colon = strchr(specs[i], ':');
        int klen = colon ? colon - specs[i] : (int)strlen(specs[i]);
        bool decimal = colon && !strcmp(colon + 1, "d");
        n += snprintf(line + n, cap - n, decimal ? " %.*s=%lu" : " %.*s=%#lx",
                      klen, specs[i], w->args[i]);
    }
    return n;
}

void plain_event(uint32_t cpu, const struct wire_raw *w, uint64_t lost)
{
    char line[WIRE_MAX_TEXT];
    size_t n = 0;
    if (lost)
        n += snprintf(line + n, sizeof(line) - n, "(%lu events lost) ", lost);
    const char *name = catalog_event_name(w->id);
    n += snprintf(line + n, sizeof(line) - n, "trace %s", name ? name : "?");
    n = format_args(line, n, sizeof(line), w);
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (!at_line_start[cpu])
        plain_text(cpu, "\n", 1);     /* an event never joins a text line */
    plain_text(cpu, line, n);
}
