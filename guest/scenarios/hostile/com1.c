#include "hostile.h"

/* ==== 8. COM1 ========================================================================= */
bool lsr_wait(u8 bit, u64 ms)
{
	u64 dl = tsc_deadline_ms(ms);
	while (!(inb(com1 + 5) & bit))
		if (tsc_expired(dl))
			return false;
	return true;
}

void class_com1(void)
{
	lsr_wait(0x40, 1000);                 /* our own last line is out */
	u8 lcr = inb(com1 + 3), ier = inb(com1 + 1), mcr = inb(com1 + 4);
	outb(com1 + 3, lcr | 0x80);
	u8 dll = inb(com1), dlm = inb(com1 + 1);
	u8 gdll = random_mode ? (u8)rnd() : 0x55, gdlm = random_mode ? (u8)rnd() : 0xaa;
	outb(com1, gdll);
	outb(com1 + 1, gdlm);
	u8 rdll = inb(com1), rdlm = inb(com1 + 1);
	outb(com1, dll);
	outb(com1 + 1, dlm);
	outb(com1 + 3, lcr & 0x7f);
	outb(com1 + 1, 0xff);                 /* IER garbage: bits 7:4 read 0 */
	u8 rier = inb(com1 + 1);
	outb(com1 + 1, 0);
	outb(com1 + 2, random_mode ? (u8)rnd() : 0xff);   /* FCR garbage */
	outb(com1 + 4, 0xff);                 /* MCR garbage (loopback on) */
	u8 rmcr = inb(com1 + 4);
	/* Loopback: what goes out comes back on RBR, and not on the wire. */
	outb(com1 + 4, 0x10 | 0x03);
	outb(com1 + 2, 0x07);                 /* FIFOs on and cleared */
	udelay(2000);
	while (inb(com1 + 5) & 1)
		inb(com1);
	static const u8 probe[] = { 0x5a, 0xa5, 'Q', 0x00, 0xff };
	u32 lb_bad = 0;
	u8 lb_want = 0, lb_got = 0;
	for (u32 i = 0; i < ARRAY_SIZE(probe); i++) {
		u8 x = random_mode && i == 3 ? (u8)rnd() : probe[i];
		lsr_wait(0x20, 100);
		outb(com1, x);
		bool dr = lsr_wait(0x01, 100);
		u8 got = dr ? inb(com1) : 0;
		if ((!dr || got != x) && !lb_bad++) {
			lb_want = x;
			lb_got = got;
		}
	}
	/* restore */
	outb(com1 + 4, mcr);
	outb(com1 + 3, lcr | 0x80);
	outb(com1, dll);
	outb(com1 + 1, dlm);
	outb(com1 + 3, lcr);
	outb(com1 + 1, ier);
	outb(com1 + 2, 0xc7);
	info("COM1 restored after DLAB, IER/FCR/MCR garbage and loopback (LCR 0x%x MCR 0x%x)",
	     lcr, mcr);
	check("com1_divisor_readback", rdll == gdll && rdlm == gdlm,
	      "divisor latch wrote 0x%02x%02x, reads back 0x%02x%02x", gdlm, gdll, rdlm, rdll);
	check("com1_ier_readback", rier == 0x0f, "IER := 0xff reads back 0x%02x, want 0x0f", rier);
	check("com1_mcr_readback", rmcr == 0x1f, "MCR := 0xff reads back 0x%02x, want 0x1f", rmcr);
	check("com1_loopback", !lb_bad, "%u of %u loopback bytes did not come back (first: sent "
	      "0x%02x, got 0x%02x)", lb_bad, (u32)ARRAY_SIZE(probe), lb_want, lb_got);

	u64 n = cmdline_u64("hostile_flood", 100 * 1024);
	info("flooding COM1 with %lu bytes", n);
	u64 sent = 0, t0 = rdtsc();
	bool stuck = false;
	char line[100];
	memset(line, '~', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	memcpy(line, "flood ", 6);
	while (sent < n) {
		u8 ch = line[sent % sizeof(line)];
		if (sent + 1 == n)
			ch = '\n';
		if (!lsr_wait(0x20, 1000)) {
			stuck = true;
			break;
		}
		outb(com1, ch);
		sent++;
	}
	lsr_wait(0x40, 1000);
	u64 ms = (rdtsc() - t0) / (tsc_khz() ? tsc_khz() : 1);
	info("flood of %lu bytes done in %lu ms", sent, ms);
	check("com1_flood", !stuck, "THR stayed full for 1 s after %lu of %lu bytes", sent, n);
}
