/* trustvisor_utpm: the micro-TPM's keyed commands as the untrusted guest
 * calls them (abi/tvabi.h): SEAL/UNSEAL round trip, a blob altered in its
 * ciphertext, tag or header or cut short refused, a blob refused once a
 * PCR it is bound to changed (and opened when only an unbound one did),
 * QUOTE and ID_GETPUB with their contents checked here and printed
 * (TVQUOTE lines) for the host to verify the signature
 * (host-tools/tv-verify-quote), and bad input refused with its error. */
#include "../guest.h"
#include "tvabi.h"
#include "tvutpm.h"

#define DATA_LEN 64

static u8 data[DATA_LEN], plain[DATA_LEN + 8], blob[DATA_LEN + TV_SEAL_OVERHEAD + 8];
static u8 blob2[sizeof(blob)], copy[sizeof(blob)];
static struct tv_buf in, out;

static u32 seal(u32 mask, u8 *dst, u32 room)
{
	in = (struct tv_buf){ (u64)data, DATA_LEN, 0 };
	out = (struct tv_buf){ (u64)dst, room, 0 };
	return tvu_vmcall(TV_HC_UTPM_SEAL, (u64)&in, mask, (u64)&out, 0);
}

static u32 unseal(const u8 *src, u32 len)
{
	in = (struct tv_buf){ (u64)src, len, 0 };
	out = (struct tv_buf){ (u64)plain, sizeof(plain), 0 };
	memset(plain, 0, sizeof(plain));
	return tvu_vmcall(TV_HC_UTPM_UNSEAL, (u64)&in, (u64)&out, 0, 0);
}

/* A copy of the blob with byte i flipped must be refused as altered. */
static void tampered(const char *chk, u32 len, u32 i)
{
	memcpy(copy, blob, len);
	copy[i] ^= 0x04;
	u32 rc = unseal(copy, len);
	check(chk, rc == TV_ERR_SEAL_AUTH && !plain[0] && !plain[1],
	      "UNSEAL of the blob with byte %u flipped gave 0x%x, want 0x%x (SEAL_AUTH), "
	      "plain[0..1] %02x%02x", i, rc, TV_ERR_SEAL_AUTH, plain[0], plain[1]);
}

static void seal_unseal(void)
{
	for (u32 i = 0; i < DATA_LEN; i++)
		data[i] = (u8)(0xa0 + i);
	u32 rc = seal(0x09, blob, sizeof(blob));        /* PCRs 0 and 3 */
	u32 len = out.len;
	check("seal", rc == TV_OK && len == DATA_LEN + TV_SEAL_OVERHEAD &&
	      !memcmp(blob, TV_SEAL_MAGIC, 4) && blob[4] == 0x09 &&
	      memcmp(blob + TV_SEAL_HEADER, data, DATA_LEN) != 0,
	      "SEAL(64 bytes, PCRs 0,3) gave 0x%x, %u bytes, header %02x%02x%02x%02x mask %u",
	      rc, len, blob[0], blob[1], blob[2], blob[3], blob[4]);
	if (rc != TV_OK)
		return;
	rc = unseal(blob, len);
	check("unseal_roundtrip", rc == TV_OK && out.len == DATA_LEN && !memcmp(plain, data, DATA_LEN),
	      "UNSEAL gave 0x%x, %u bytes, equal %d", rc, out.len, !memcmp(plain, data, DATA_LEN));
	rc = seal(0x09, blob2, sizeof(blob2));
	check("seal_fresh_nonce", rc == TV_OK && memcmp(blob + 40, blob2 + 40, 12) != 0 &&
	      memcmp(blob + TV_SEAL_HEADER, blob2 + TV_SEAL_HEADER, DATA_LEN) != 0,
	      "a second SEAL of the same data gave 0x%x and the same nonce or ciphertext", rc);
	tampered("unseal_tampered_ciphertext", len, TV_SEAL_HEADER + 10);
	tampered("unseal_tampered_tag", len, len - 1);
	tampered("unseal_tampered_mask", len, 4);
	tampered("unseal_tampered_digest", len, 8);
	tampered("unseal_tampered_nonce", len, 41);
	rc = unseal(blob, len - 1);
	check("unseal_cut", rc == TV_ERR_SEAL_AUTH, "UNSEAL of the blob cut by one byte gave 0x%x", rc);
	rc = unseal(blob, 10);
	check("unseal_too_short", rc == TV_ERR_SEAL_AUTH, "UNSEAL of 10 bytes gave 0x%x", rc);

	/* A blob bound to PCR 6 only: extending PCR 3 does not matter to it. */
	rc = seal(1u << 6, blob2, sizeof(blob2));
	u32 len2 = out.len;
	static u8 meas[20];
	memset(meas, 0x33, sizeof(meas));
	u32 ext = tvu_vmcall(TV_HC_UTPM_PCREXT, 3, (u64)meas, 0, 0);
	rc = unseal(blob, len);
	check("unseal_other_pcrs", ext == TV_OK && rc == TV_ERR_SEAL_PCR && !plain[0],
	      "after PCREXT(3) (0x%x) UNSEAL of a blob bound to PCRs 0,3 gave 0x%x, want 0x%x "
	      "(SEAL_PCR)", ext, rc, TV_ERR_SEAL_PCR);
	rc = unseal(blob2, len2);
	check("unseal_unbound_pcr_changed", rc == TV_OK && !memcmp(plain, data, DATA_LEN),
	      "UNSEAL of a blob bound to PCR 6 after PCR 3 changed gave 0x%x", rc);
}

static void seal_bad_input(void)
{
	u32 rc = seal(0x100, blob, sizeof(blob));
	check("seal_pcr_out_of_range", rc == TV_ERR_PCR_OUT_OF_RANGE, "SEAL mask 0x100 gave 0x%x", rc);
	rc = seal(0x1, blob, 20);
	check("seal_out_too_small", rc == TV_ERR_BAD_PARAM && out.len == DATA_LEN + TV_SEAL_OVERHEAD,
	      "SEAL into 20 bytes gave 0x%x, len %u (want 0x1, the size needed)", rc, out.len);
	in = (struct tv_buf){ (u64)data, TV_SEAL_MAX_DATA + 1, 0 };
	out = (struct tv_buf){ (u64)blob, sizeof(blob), 0 };
	rc = tvu_vmcall(TV_HC_UTPM_SEAL, (u64)&in, 1, (u64)&out, 0);
	check("seal_too_big", rc == TV_ERR_BAD_PARAM, "SEAL of %u bytes gave 0x%x",
	      TV_SEAL_MAX_DATA + 1, rc);
	in = (struct tv_buf){ 0xFFFFFFFFF000ull, 16, 0 };
	rc = tvu_vmcall(TV_HC_UTPM_SEAL, (u64)&in, 1, (u64)&out, 0);
	check("seal_unmapped_data", rc == TV_ERR_BAD_PARAM, "SEAL of unmapped data gave 0x%x", rc);
	rc = tvu_vmcall(TV_HC_UTPM_SEAL, 0xFFFFFFFFF000ull, 1, (u64)&out, 0);
	check("seal_unmapped_buf", rc == TV_ERR_BAD_PARAM, "SEAL with an unmapped tv_buf gave 0x%x", rc);
	in = (struct tv_buf){ (u64)blob, TV_SEAL_MAX_DATA + TV_SEAL_OVERHEAD + 1, 0 };
	rc = tvu_vmcall(TV_HC_UTPM_UNSEAL, (u64)&in, (u64)&out, 0, 0);
	check("unseal_too_big", rc == TV_ERR_BAD_PARAM, "UNSEAL of a too long blob gave 0x%x", rc);
	seal(0, blob, sizeof(blob));
	in = (struct tv_buf){ (u64)blob, DATA_LEN + TV_SEAL_OVERHEAD, 0 };
	out = (struct tv_buf){ (u64)plain, 8, 0 };
	rc = tvu_vmcall(TV_HC_UTPM_UNSEAL, (u64)&in, (u64)&out, 0, 0);
	check("unseal_out_too_small", rc == TV_ERR_BAD_PARAM && out.len == DATA_LEN,
	      "UNSEAL into 8 bytes gave 0x%x, len %u (want 0x1, %u)", rc, out.len, DATA_LEN);
}

static void quote(void)
{
	static u8 pub[TV_PUBKEY_SIZE + 3], nonce[TV_QUOTE_NONCE_SIZE], pcr[2][20];
	static u8 sigb[TV_QUOTE_SIG_SIZE], infob[TV_QUOTE_MAX_INFO];
	static u32 len;
	static struct tv_buf sig, info;
	len = 10;
	u32 rc = tvu_vmcall(TV_HC_UTPM_ID_GETPUB, (u64)pub, (u64)&len, 0, 0);
	check("getpub_too_small", rc == TV_ERR_BAD_PARAM && len == TV_PUBKEY_SIZE,
	      "ID_GETPUB into 10 bytes gave 0x%x, len %u", rc, len);
	len = sizeof(pub);
	rc = tvu_vmcall(TV_HC_UTPM_ID_GETPUB, (u64)pub, (u64)&len, 0, 0);
	check("getpub", rc == TV_OK && len == TV_PUBKEY_SIZE && pub[0] == 4,
	      "ID_GETPUB gave 0x%x, len %u, first byte 0x%x", rc, len, pub[0]);
	for (u32 i = 0; i < sizeof(nonce); i++)
		nonce[i] = (u8)(0x4e + 3 * i);
	tvu_vmcall(TV_HC_UTPM_PCRREAD, 3, (u64)pcr[0], 0, 0);
	tvu_vmcall(TV_HC_UTPM_PCRREAD, 7, (u64)pcr[1], 0, 0);
	sig = (struct tv_buf){ (u64)sigb, sizeof(sigb), 0 };
	info = (struct tv_buf){ (u64)infob, sizeof(infob), 0 };
	rc = tvu_vmcall(TV_HC_UTPM_QUOTE, 0x88, (u64)&sig, (u64)nonce, (u64)&info);
	bool ok = rc == TV_OK && sig.len == TV_QUOTE_SIG_SIZE && info.len == TV_QUOTE_HEADER + 40 &&
		  !memcmp(infob, TV_QUOTE_MAGIC, 4) && !memcmp(infob + 4, nonce, 20) &&
		  infob[24] == 0x88 && !memcmp(infob + 28, pcr[0], 20) && !memcmp(infob + 48, pcr[1], 20);
	check("quote", ok, "QUOTE(PCRs 3,7) gave 0x%x, sig %u bytes, info %u bytes (its contents "
	      "%s)", rc, sig.len, info.len, ok ? "right" : "not the nonce and PCRs");
	tvu_print_hex("guest pub", pub, TV_PUBKEY_SIZE);
	tvu_print_hex("guest info", infob, info.len);
	tvu_print_hex("guest sig", sigb, sig.len);
	rc = tvu_vmcall(TV_HC_UTPM_QUOTE, 0x1ff, (u64)&sig, (u64)nonce, (u64)&info);
	check("quote_pcr_out_of_range", rc == TV_ERR_PCR_OUT_OF_RANGE, "QUOTE mask 0x1ff gave 0x%x", rc);
	sig.len = 63;
	rc = tvu_vmcall(TV_HC_UTPM_QUOTE, 0x1, (u64)&sig, (u64)nonce, (u64)&info);
	check("quote_sig_too_small", rc == TV_ERR_BAD_PARAM && sig.len == TV_QUOTE_SIG_SIZE,
	      "QUOTE with 63 bytes for the signature gave 0x%x, len %u", rc, sig.len);
	rc = tvu_vmcall(TV_HC_UTPM_QUOTE, 0x1, (u64)&sig, 0xFFFFFFFFF000ull, (u64)&info);
	check("quote_unmapped_nonce", rc == TV_ERR_BAD_PARAM, "QUOTE with an unmapped nonce gave 0x%x", rc);
}

static void run(void)
{
	if (check_need_hv("seal"))
		return;
	seal_unseal();
	seal_bad_input();
	quote();
}

SCENARIO(68, trustvisor_utpm, run, "TrustVisor: SEAL/UNSEAL bound to PCRs, tampered blobs "
	 "refused, QUOTE and ID_GETPUB, bad input refused");
