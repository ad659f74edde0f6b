#include "hostile.h"

/* ==== 7. the ICR ===================================================================== */
static bool send(u32 dest, u32 icr)
{
	return lapic_send(dest, icr);
}

/* Send, let interrupts in, and judge: want_self arrivals of vec on the BSP
 * (want_self < 0: 0 or 1), nothing anywhere else, want_nmi NMIs in all. */
static void icr_case(const char *chk, const char *what, u32 dest, u32 icr, int want_self,
		     u32 want_nmi)
{
	u32 snap[GUEST_MAX_CPUS][VEC_COUNT], total;
	vec_snapshot(snap);
	u64 nmi0 = nmi_total();
	bool sent = send(dest, icr);
	irq_window(3000);
	u32 vec = (icr & 0xff) >= VEC_FIRST && (icr & 0xff) < VEC_FIRST + VEC_COUNT ? icr & 0xff
		  : VEC_FIRST;
	u32 self = vec_since(snap, 0, vec, &total);
	u64 nmis = nmi_total() - nmi0;
	bool ok = (want_self < 0 ? self <= 1 : self == (u32)want_self) && total == self &&
		  nmis == want_nmi;
	check(chk, ok, "%s (ICR 0x%x, dest 0x%x)%s: %u arrivals of vector 0x%x here, %u "
	      "interrupts in all, %lu NMIs; want %s%d here, none elsewhere, %u NMIs", what, icr,
	      dest, sent ? "" : " [delivery status stayed busy]", self, vec, total, nmis,
	      want_self < 0 ? "at most " : "", want_self < 0 ? 1 : want_self, want_nmi);
}

/* An ICR write by `width` bytes; ICR high is set first. */
static int icr_write_odd(int width, u64 val)
{
	u64 a = apic + LAPIC_ICR_LO;
	if (width == 1)
		return TRY("movb %1, (%0)", :: "r"(a), "q"((u8)val) : "memory");
	return TRY("movq %1, (%0)", :: "r"(a), "r"(val) : "memory");
}

void class_icr(void)
{
	u32 self = smp_cpus[0].apic_id;
	for (u32 c = 0; c < smp_ncpus; c++)
		if (smp_cpus[c].apic_id == ABSENT_ID) {
			info("APIC ID 0x%x exists here: the absent-destination checks would hit it",
			     ABSENT_ID);
			return;
		}
	icr_case("icr_fixed_self", "fixed to self", self, ICR_FIXED | ICR_ASSERT | 0xe0, 1, 0);
	icr_case("icr_fixed_self_shorthand", "fixed, shorthand self", 0,
		 ICR_SELF | ICR_FIXED | ICR_ASSERT | 0xe0, 1, 0);
	icr_case("icr_fixed_absent", "fixed to an absent APIC ID", ABSENT_ID,
		 ICR_FIXED | ICR_ASSERT | 0xe1, 0, 0);
	icr_case("icr_fixed_logical_absent", "fixed, logical, nobody's LDR", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0xe1, 0, 0);
	icr_case("icr_lowpri_absent", "lowest priority to an absent APIC ID", ABSENT_ID,
		 ICR_LOWPRI | ICR_ASSERT | 0xe2, 0, 0);
	icr_case("icr_lowpri_logical_absent", "lowest priority, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_LOWPRI | ICR_ASSERT | 0xe2, 0, 0);
	icr_case("icr_lowpri_self", "lowest priority to self (physical)", self,
		 ICR_LOWPRI | ICR_ASSERT | 0xe2, -1, 0);
	icr_case("icr_nmi_self", "NMI to self", self, ICR_NMI | ICR_ASSERT, 0, 1);
	icr_case("icr_nmi_absent", "NMI to an absent APIC ID", ABSENT_ID, ICR_NMI | ICR_ASSERT, 0, 0);
	icr_case("icr_nmi_logical_absent", "NMI, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_NMI | ICR_ASSERT, 0, 0);
	icr_case("icr_smi_absent", "SMI to an absent APIC ID", ABSENT_ID, ICR_SMI | ICR_ASSERT, 0, 0);
	icr_case("icr_smi_logical_absent", "SMI, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_SMI | ICR_ASSERT, 0, 0);
	if (!check_need_hv("icr_smi_self"))
		icr_case("icr_smi_self", "SMI to self", self, ICR_SMI | ICR_ASSERT, 0, 0);
	icr_case("icr_init_absent", "INIT to an absent APIC ID", ABSENT_ID,
		 ICR_INIT | ICR_LEVEL | ICR_ASSERT, 0, 0);
	icr_case("icr_init_logical_absent", "INIT, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_INIT | ICR_LEVEL | ICR_ASSERT, 0, 0);
	/* Bare, an INIT to the BSP itself really resets it: only the hypervisor
	 * can (and must) refuse it. */
	if (!check_need_hv("icr_init_self"))
		icr_case("icr_init_self", "INIT to self", self, ICR_INIT | ICR_LEVEL | ICR_ASSERT, 0, 0);
	u32 sipi = ICR_STARTUP | ICR_ASSERT | smp_vectors[0];
	icr_case("icr_sipi_absent", "SIPI to an absent APIC ID", ABSENT_ID, sipi, 0, 0);
	icr_case("icr_sipi_logical_absent", "SIPI, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | sipi, 0, 0);
	icr_case("icr_sipi_self", "SIPI to self (running: ignored)", self, sipi, 0, 0);
	icr_case("icr_extint_absent", "ExtINT to an absent APIC ID", ABSENT_ID,
		 ICR_EXTINT | ICR_ASSERT, 0, 0);
	icr_case("icr_extint_logical_absent", "ExtINT, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_EXTINT | ICR_ASSERT, 0, 0);
	if (random_mode)
		for (int i = 0; i < 8; i++) {
			static const u32 modes[] = { ICR_FIXED, ICR_LOWPRI, ICR_SMI, ICR_NMI, ICR_INIT,
						     ICR_STARTUP, ICR_EXTINT };
			u32 icr = modes[rnd_below(ARRAY_SIZE(modes))] | ICR_ASSERT |
				  (u32)(VEC_FIRST + 1 + rnd_below(VEC_COUNT - 1));
			bool logical = rnd() & 1;
			if (logical)
				icr |= ICR_LOGICAL;
			icr_case("icr_random_absent", "random mode to nobody",
				 logical ? ABSENT_LOGICAL : ABSENT_ID, icr, 0, 0);
		}

	/* Stale bytes: ICR low holds an NMI (sent to nobody), then ICR high
	 * names this CPU. A partial write must not become that NMI. */
	if (!hv.present) {
		check_need_hv("icr_byte_write");
		check_need_hv("icr_qword_write");
	} else {
		for (int width = 1; width <= 8; width += 7) {
			const char *chk = width == 1 ? "icr_byte_write" : "icr_qword_write";
			send(ABSENT_ID, ICR_NMI | ICR_ASSERT);
			udelay(1000);
			lapic_write(LAPIC_ICR_HI, self << 24);
			u32 vec = width == 1 ? 0xe4 : 0xe5;
			u32 snap[GUEST_MAX_CPUS][VEC_COUNT], total;
			vec_snapshot(snap);
			u64 nmi0 = nmi_total();
			int v = icr_write_odd(width, width == 1 ? vec : 0x0000040000000000ull | vec);
			irq_window(3000);
			u32 here = vec_since(snap, 0, vec, &total);
			u64 nmis = nmi_total() - nmi0;
			check(chk, v < 0 && nmis == 0 && here <= 1 && total == here,
			      "%d-byte ICR write of vector 0x%x: vector %d, %lu NMIs (stale bytes), "
			      "%u arrivals of 0x%x, %u interrupts in all; want no NMI, at most "
			      "the written fixed IPI", width, vec, v, nmis, here, vec, total);
		}
	}
	/* RMW: orl $0 writes back exactly what it read: the same IPI again, or
	 * nothing. */
	{
		send(self, ICR_FIXED | ICR_ASSERT | 0xe6);
		irq_window(3000);
		u32 snap[GUEST_MAX_CPUS][VEC_COUNT], total;
		vec_snapshot(snap);
		u64 nmi0 = nmi_total();
		u64 a = apic + LAPIC_ICR_LO;
		int v = TRY("orl $0, (%0)", :: "r"(a) : "memory", "cc");
		irq_window(3000);
		u32 here = vec_since(snap, 0, 0xe6, &total);
		u64 nmis = nmi_total() - nmi0;
		check("icr_rmw_orl", v < 0 && nmis == 0 && here <= 1 && total == here,
		      "orl $0 on ICR low (fixed 0xe6 to self): vector %d, %u more arrivals, %u "
		      "interrupts in all, %lu NMIs", v, here, total, nmis);
	}
	lapic_write(LAPIC_ICR_HI, 0);
	if (smp_ncpus > 1)
		check_aps("icr_aps_alive");
}
