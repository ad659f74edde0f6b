/* The hypervisor's own use of the local APIC, in whichever mode (xAPIC or
 * x2APIC) is live: the mode is read from IA32_APIC_BASE each time, because
 * a guest may switch it. */
#ifndef HV_LAPIC_H
#define HV_LAPIC_H
#include <stdint.h>
#include <stdbool.h>

/* xAPIC register offsets (SDM Vol. 3A, Table 11-1); in x2APIC mode
 * register r is MSR 0x800 + (r >> 4) (Table 11-6). */
#define XAPIC_ID          0x20
#define XAPIC_EOI         0xb0
#define XAPIC_SVR         0xf0
#define XAPIC_ICR_LO      0x300
#define XAPIC_ICR_HI      0x310
#define ICR_INIT        0x00004500u     /* INIT, level assert */
#define ICR_STARTUP     0x00004600u     /* SIPI; | vector */
#define ICR_NMI         0x00000400u
#define ICR_SHORT_OTHERS (3u << 18)     /* all excluding self */
/* Fixed-vector IPI that only wakes a CPU from sti;hlt (see cpu_idle). */
#define VEC_WAKEUP      0xf0

bool lapic_x2apic_mode(void);
uint32_t lapic_id(void);
void lapic_enable(void);
/* Sends an IPI to one APIC id, or to a shorthand encoded in icr_low. */
void lapic_send_ipi(uint32_t dest, uint32_t icr_low);
void lapic_eoi(void);
/* xAPIC registers by offset (for the guest's forwarded accesses). */
uint32_t lapic_read(uint32_t off);
void lapic_write(uint32_t off, uint32_t v);

#endif
