/* A guest action the hypervisor refused: the guest already got its
 * architectural answer (the caller injected #GP/#UD or dropped the write);
 * this is the hypervisor's side of it, so a refusal is never silent. */
#ifndef HV_VMX_REFUSE_H
#define HV_VMX_REFUSE_H
#include <stdint.h>
#include "trace/catalog.h"
#include "vmx/vcpu.h"

/* Always a GUEST_REFUSED trace event; a console line "guest cpuN:
 * refused KIND: <text>" for the first REFUSE_REPORT_FIRST of each kind on
 * each CPU, then one every REFUSE_REPORT_EVERY with the running count. */
#define REFUSE_REPORT_FIRST 16
#define REFUSE_REPORT_EVERY 1000
void guest_refused(struct vcpu *v, enum refusal_kind kind, uint64_t value,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
