/* Hypapps (TrustVisor, diagnostics, ...) own ranges of VMCALL function
 * numbers (EAX). The core's own functions (abi/hvabi.h) are 0x0-0xff. */
#ifndef HV_HYPAPP_HYPAPP_H
#define HV_HYPAPP_HYPAPP_H
#include <stdbool.h>
#include <stdint.h>
#include "vmx/vcpu.h"

#define HYPAPP_CORE_LAST 0xffu

struct hypapp {
    const char *name;
    uint32_t first, last;                       /* EAX range it owns */
    void (*vmcall)(struct vcpu *v, uint32_t fn); /* sets the guest's RAX */
};

/* Refuses (with a message) a range that overlaps the core or another app. */
bool hypapp_register(const struct hypapp *app);
/* Once, after the VMX core: takes the VMCALLs above the core's range and
 * registers the built-in diagnostics hypapp (functions 0x100-0x10f). */
void hypapp_init(void);
void hypapp_diag_register(void);

#endif
