#ifndef HV_VMX_CONTROLS_H
#define HV_VMX_CONTROLS_H
#include <stdint.h>
#include <stdbool.h>

enum ctl_reg { CTL_PIN, CTL_PROC, CTL_PROC2, CTL_EXIT, CTL_ENTRY, CTL_COUNT };

#define PIN_NMI_EXITING     (1u << 3)
#define PIN_VIRTUAL_NMIS    (1u << 5)
#define PIN_PREEMPT_TIMER   (1u << 6)
#define PROC_TSC_OFFSET     (1u << 3)
#define PROC_NMI_WINDOW     (1u << 22)
#define PROC_MONITOR_TRAP   (1u << 27)
#define PROC_IO_BITMAPS     (1u << 25)
#define PROC_MSR_BITMAPS    (1u << 28)
#define PROC_SECONDARY      (1u << 31)
#define PROC2_EPT           (1u << 1)
#define PROC2_VPID          (1u << 5)
#define PROC2_UNRESTRICTED  (1u << 7)
#define PROC2_RDTSCP        (1u << 3)   /* without it RDTSCP is #UD in the guest */
#define PROC2_INVPCID       (1u << 12)  /* without it INVPCID is #UD in the guest */
#define PROC2_XSAVES        (1u << 20)  /* without it XSAVES/XRSTORS are #UD */
#define EXIT_SAVE_DEBUG     (1u << 2)   /* guest DR7, IA32_DEBUGCTL saved on exit */
#define EXIT_HOST_64        (1u << 9)
#define EXIT_SAVE_PAT       (1u << 18)
#define EXIT_LOAD_PAT       (1u << 19)
#define EXIT_SAVE_EFER      (1u << 20)
#define EXIT_LOAD_EFER      (1u << 21)
#define ENTRY_LOAD_DEBUG    (1u << 2)   /* ... and loaded on entry */
#define ENTRY_IA32E_GUEST   (1u << 9)
#define ENTRY_LOAD_PAT      (1u << 14)
#define ENTRY_LOAD_EFER     (1u << 15)

struct vmx_controls { uint32_t ctl[CTL_COUNT]; };

/* Fills c from the capability MSRs (TRUE_* where offered). Returns false,
 * naming each missing feature, if the CPU lacks something required. */
bool vmx_controls_compute(struct vmx_controls *c);
extern struct vmx_controls vmx_controls;   /* what every VMCS uses */

#endif
