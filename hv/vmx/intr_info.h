/* Event-injection and exit-interruption information, interruptibility
 * state and pending debug exceptions: the bits of those VMCS fields, each
 * defined once (SDM Vol. 3C, 24.4.2, 24.8.3, 24.9.2). */
#ifndef HV_VMX_INTR_INFO_H
#define HV_VMX_INTR_INFO_H

/* VM-entry interruption information / VM-exit interruption information /
 * IDT-vectoring information (SDM Vol. 3C, Tables 24-15, 24-19, 24-20). */
#define INTR_INFO_VECTOR(info)  ((info) & 0xff)
#define INTR_INFO_TYPE(info)    (((info) >> 8) & 7)
#define INTR_INFO_ERR_VALID     (1u << 11)
#define INTR_INFO_NMI_UNBLOCKED (1u << 12)  /* exit info: NMI unblocking by IRET */
#define INTR_INFO_VALID         (1u << 31)
enum intr_type {
    INTR_TYPE_EXT_INTR = 0, INTR_TYPE_NMI = 2, INTR_TYPE_HW_EXCEPTION = 3,
    INTR_TYPE_SW_INTR = 4, INTR_TYPE_PRIV_SW_EXCEPTION = 5, INTR_TYPE_SW_EXCEPTION = 6,
    INTR_TYPE_OTHER = 7,
};
/* Software events need the instruction length on injection (SDM Vol. 3C,
 * 26.6.1.1). */
#define INTR_TYPE_IS_SOFTWARE(t) ((t) == INTR_TYPE_SW_INTR || \
                                  (t) == INTR_TYPE_PRIV_SW_EXCEPTION || \
                                  (t) == INTR_TYPE_SW_EXCEPTION)

/* Guest interruptibility state (SDM Vol. 3C, Table 24-3). */
#define BLOCK_STI       (1u << 0)
#define BLOCK_MOV_SS    (1u << 1)
#define BLOCK_SMI       (1u << 2)
#define BLOCK_NMI       (1u << 3)   /* virtual-NMI blocking with virtual NMIs on */

/* Pending debug exceptions: BS, a single-step trap is pending (Table 24-4). */
#define PENDING_DBG_BS  (1ull << 14)
/* Exit qualification of a #DB exit: BS, the single-step cause (Table 27-1). */
#define DB_QUAL_BS      (1ull << 14)

#endif
