#include <stdarg.h>
#include <fmt.h>
#include <percpu.h>
#include "console/console.h"
#include "trace/trace.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"

#define KINDS 32

static uint64_t counts[MAX_CPUS][KINDS];

void guest_refused(struct vcpu *v, enum refusal_kind kind, uint64_t value, const char *fmt, ...)
{
    uint64_t rip = vmcs_read(GUEST_RIP);
    trace_event(TEV_GUEST_REFUSED, kind, value, rip);
    uint64_t n = ++counts[v->index][kind % KINDS];
    if (n > REFUSE_REPORT_FIRST && n % REFUSE_REPORT_EVERY)
        return;
    char text[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    const char *name = catalog_refusal_name(kind);
    if (n > REFUSE_REPORT_FIRST)
        printf("guest cpu%u: refused %s: %s (guest rip %#lx; %lu of this kind so far)\n",
               v->index, name ? name : "?", text, rip, n);
    else
        printf("guest cpu%u: refused %s: %s (guest rip %#lx)\n", v->index,
               name ? name : "?", text, rip);
}
