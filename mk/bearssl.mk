# BearSSL for the micro-TPM (trustvisor/README.md): Debian 12's source
# package bearssl 0.6+dfsg.1-3, fetched and checked by mk/bearssl.sh (SHA-256
# pinned there), unpacked into build/bearssl. Only the files below are
# compiled: the portable constant-time implementations (SHA-1, SHA-256,
# HMAC, HMAC-DRBG, ChaCha20 ct, Poly1305 ctmul, P-256 m31 with i31 ECDSA)
# and what they call; none of the AES-NI / SSE2 / PCLMUL / POWER8 code, no
# OS random source or clock (the BR_* switches below say so to inner.h).
# Two builds: with the hypervisor's own flags into libbearssl-hv.a (linked
# into hv.elf) and with the host's into libbearssl-host.a (unit tests).
# Included by mk/trustvisor.mk.

# The source is unpacked once under build/ (not $(BUILD)): the planted-bug
# builds (build/bugs/<name>, HV_BUGS) compile the same copy.
BEARSSL_SRC_ROOT := build/bearssl
BEARSSL_DIR   := $(BEARSSL_SRC_ROOT)/bearssl-0.6
BEARSSL_SHA   := 102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004
BEARSSL_STAMP := $(BEARSSL_DIR)/.unpacked-$(BEARSSL_SHA)
BEARSSL_FILES := codec/ccopy codec/dec32be codec/enc32be \
	hash/sha1 hash/sha2small mac/hmac rand/hmac_drbg \
	symcipher/chacha20_ct symcipher/poly1305_ctmul \
	ec/ec_p256_m31 ec/ec_keygen ec/ec_pubkey \
	ec/ec_secp256r1 ec/ec_secp384r1 ec/ec_secp521r1 \
	ec/ecdsa_i31_bits ec/ecdsa_i31_sign_raw ec/ecdsa_i31_vrfy_raw \
	$(addprefix int/i31_,add bitlen decmod decode encode fmont iszero modpow montmul \
	  muladd ninv31 rshift sub tmont) int/i32_div32
BEARSSL_SWITCHES := -DBR_AES_X86NI=0 -DBR_SSE2=0 -DBR_POWER8=0 -DBR_RDRAND=0 \
	-DBR_USE_URANDOM=0 -DBR_USE_WIN32_RAND=0 -DBR_USE_UNIX_TIME=0 -DBR_USE_WIN32_TIME=0
BEARSSL_HV_LIB   := $(BUILD)/bearssl/libbearssl-hv.a
BEARSSL_HOST_LIB := $(BUILD)/bearssl/libbearssl-host.a
BEARSSL_HV_OBJS   := $(BEARSSL_FILES:%=$(BUILD)/bearssl/hv/%.o)
BEARSSL_HOST_OBJS := $(BEARSSL_FILES:%=$(BUILD)/bearssl/host/%.o)
# BearSSL's own code, not ours: its warnings under -Wextra are not errors here.
# Its inner.h includes <limits.h>; GCC's own limits.h defines the limits by
# itself when told there is no C library one behind it (_LIBC_LIMITS_H_),
# and the hypervisor has none. <string.h> is hv/include's.
BEARSSL_HV_CFLAGS   := $(filter-out -Werror -Wall -Wextra,$(HV_CFLAGS)) -w \
	-D_LIBC_LIMITS_H_ $(BEARSSL_SWITCHES) -I$(BEARSSL_DIR)/inc -I$(BEARSSL_DIR)/src
BEARSSL_HOST_CFLAGS := -std=gnu11 -O2 -g -w $(BEARSSL_SWITCHES) \
	-I$(BEARSSL_DIR)/inc -I$(BEARSSL_DIR)/src

$(BEARSSL_STAMP): mk/bearssl.sh mk/debsrc.sh
	@sh mk/bearssl.sh $(BEARSSL_SRC_ROOT)

# The sources appear when the tarball is unpacked: every object waits for it.
$(BEARSSL_DIR)/src/%.c: $(BEARSSL_STAMP) ;

$(BUILD)/bearssl/hv/%.o: $(BEARSSL_DIR)/src/%.c $(BEARSSL_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(BEARSSL_HV_CFLAGS) -c $< -o $@

$(BUILD)/bearssl/host/%.o: $(BEARSSL_DIR)/src/%.c $(BEARSSL_STAMP)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(BEARSSL_HOST_CFLAGS) -c $< -o $@

$(BEARSSL_HV_LIB): $(BEARSSL_HV_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BEARSSL_HOST_LIB): $(BEARSSL_HOST_OBJS)
	rm -f $@ && ar rcs $@ $^
