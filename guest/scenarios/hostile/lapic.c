#include "hostile.h"

/* ==== 6. the xAPIC page ============================================================= */
u64 apic;                      /* 0xfee00000 normally */

void class_lapic(void)
{
	u32 bad = 0, at = 0;
	int v0 = -1;
	u32 val;
	for (u32 off = 0; off <= 0xff0; off += 0x10) {
		int v = read32(apic + off, &val);
		if (v >= 0 && !bad++) {
			at = off;
			v0 = v;
		}
	}
	check("lapic_read_all", !bad, "%u of the 256 registers faulted on a 32-bit read (first "
	      "offset 0x%x: %s)", bad, at, v0 >= 0 ? vector_name((unsigned)v0) : "");
	if (random_mode)
		for (int i = 0; i < 16; i++)
			read32(apic + (rnd_below(0x100) << 4), &val);

	/* Narrow reads inside one dword (Bochs' LAPIC allows them). */
	u8 b8 = 0;
	u16 b16 = 0;
	u64 tpr = apic + LAPIC_TPR;
	int v1 = TRY("movb (%1), %0", : "=q"(b8) : "r"(tpr) : "memory");
	int v2 = TRY("movb (%1), %0", : "=q"(b8) : "r"(tpr + 1) : "memory");
	int v3 = TRY("movw (%1), %0", : "=r"(b16) : "r"(tpr) : "memory");
	int v4 = TRY("movw (%1), %0", : "=r"(b16) : "r"(tpr + 2) : "memory");
	int v5 = TRY("movb (%1), %0", : "=q"(b8) : "r"(apic + 0x3c3) : "memory");
	check("lapic_narrow_reads", v1 < 0 && v2 < 0 && v3 < 0 && v4 < 0 && v5 < 0,
	      "1-/2-byte reads of TPR and 0x3c0 raised vectors %d %d %d %d %d", v1, v2, v3, v4, v5);

	u32 tpr0 = lapic_read(LAPIC_TPR), err0 = lapic_read(LAPIC_LVT_ERROR);
	if (!check_need_hv("lapic_wide_unaligned_reads")) {
		u64 q = 0;
		u32 d = 0;
		int r1 = TRY("movq (%1), %0", : "=r"(q) : "r"(tpr) : "memory");
		int r2 = TRY("movl (%1), %0", : "=r"(d) : "r"(tpr + 1) : "memory");
		int r3 = TRY("movl (%1), %0", : "=r"(d) : "r"(tpr + 2) : "memory");
		int r4 = TRY("movw (%1), %0", : "=r"(b16) : "r"(tpr + 3) : "memory");
		int r5 = TRY("movq (%1), %0", : "=r"(q) : "r"(tpr + 0xc) : "memory");
		int r6 = TRY("movq (%1), %0", : "=r"(q) : "r"(apic + 0x3c0) : "memory");
		check("lapic_wide_unaligned_reads", r1 < 0 && r2 < 0 && r3 < 0 && r4 < 0 && r5 < 0 &&
		      r6 < 0, "8-byte and unaligned reads raised vectors %d %d %d %d %d %d",
		      r1, r2, r3, r4, r5, r6);
	}
	if (!hv.present) {
		check_need_hv("lapic_odd_writes");
		check_need_hv("lapic_odd_writes_dropped");
	} else {
		u64 lvte = apic + LAPIC_LVT_ERROR, rsv = apic + 0x3c0;
		u64 q = 0x20, qe = LVT_MASKED | 0xfd;
		static const char *const what[12] = {
			"1-byte 0x20 to TPR", "2-byte 0x20 to TPR", "8-byte 0x20 to TPR",
			"4-byte 0x20 to TPR+1", "4-byte 0x20 to TPR+2", "1-byte 0xfd to LVT error",
			"8-byte 0x100fd to LVT error", "4-byte 1 to LVT error+2", "1-byte 0 to 0x3c0",
			"2-byte 0 to 0x3c1", "8-byte 0 to 0x3c0", "4-byte 0 to 0x3ce (spans 0x3d0)" };
		int fault_i = -1, took_i = -1, fv = -1;
		u32 tpr1 = tpr0, err1 = err0;
		for (int i = 0; i < 12; i++) {
			int w;
			switch (i) {
			case 0: w = TRY("movb %1, (%0)", :: "r"(tpr), "q"((u8)0x20) : "memory"); break;
			case 1: w = TRY("movw %1, (%0)", :: "r"(tpr), "r"((u16)0x20) : "memory"); break;
			case 2: w = TRY("movq %1, (%0)", :: "r"(tpr), "r"(q) : "memory"); break;
			case 3: w = TRY("movl %1, (%0)", :: "r"(tpr + 1), "r"(0x20u) : "memory"); break;
			case 4: w = TRY("movl %1, (%0)", :: "r"(tpr + 2), "r"(0x20u) : "memory"); break;
			case 5: w = TRY("movb %1, (%0)", :: "r"(lvte), "q"((u8)0xfd) : "memory"); break;
			case 6: w = TRY("movq %1, (%0)", :: "r"(lvte), "r"(qe) : "memory"); break;
			case 7: w = TRY("movl %1, (%0)", :: "r"(lvte + 2), "r"(1u) : "memory"); break;
			case 8: w = TRY("movb %1, (%0)", :: "r"(rsv), "q"((u8)0) : "memory"); break;
			case 9: w = TRY("movw %1, (%0)", :: "r"(rsv + 1), "r"((u16)0) : "memory"); break;
			case 10: w = TRY("movq %1, (%0)", :: "r"(rsv), "r"(0ull) : "memory"); break;
			default: w = TRY("movl %1, (%0)", :: "r"(rsv + 0xe), "r"(0u) : "memory"); break;
			}
			if (w >= 0 && fault_i < 0) {
				fault_i = i;
				fv = w;
			}
			u32 t = lapic_read(LAPIC_TPR), e = lapic_read(LAPIC_LVT_ERROR);
			if ((t != tpr0 || e != err0) && took_i < 0) {
				took_i = i;
				tpr1 = t;
				err1 = e;
			}
			lapic_write(LAPIC_TPR, tpr0);
			lapic_write(LAPIC_LVT_ERROR, err0);
		}
		check("lapic_odd_writes", fault_i < 0, "odd-width/unaligned write (%s) raised %s",
		      fault_i >= 0 ? what[fault_i] : "", fv >= 0 ? vector_name((unsigned)fv) : "");
		check("lapic_odd_writes_dropped", took_i < 0, "the %s was not dropped: TPR 0x%x -> "
		      "0x%x, LVT error 0x%x -> 0x%x (first of the odd writes that took effect)",
		      took_i >= 0 ? what[took_i] : "", tpr0, tpr1, err0, err1);
		lapic_write(LAPIC_TPR, tpr0);
		lapic_write(LAPIC_LVT_ERROR, err0);
	}

	/* rep movsl: LVT LINT0 -> ICR low, the destination an absent APIC ID. */
	lapic_write(LAPIC_ICR_HI, (u32)ABSENT_ID << 24);
	u64 src = apic + LAPIC_LVT_LINT0, dst = apic + LAPIC_ICR_LO, cnt = 1;
	u64 nmi0 = nmi_total();
	int vs = TRY("rep movsl", : "+S"(src), "+D"(dst), "+c"(cnt) :: "memory");
	udelay(2000);
	check("lapic_rep_movs_icr", vs < 0 && cnt == 0 && nmi_total() == nmi0,
	      "rep movsl LINT0 -> ICR: vector %d, rcx left %lu, NMIs %lu -> %lu", vs, cnt, nmi0,
	      nmi_total());
	if (smp_ncpus > 1)
		check_aps("lapic_aps_alive");
}
