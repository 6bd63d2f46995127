// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_hw_records.c - the SMMUv3 and VT-d structure encoders and
 * decoders (<dmap/iommu_hw.h>) on arbitrary bits.
 *
 * These decoders read what hardware (or another driver) wrote: event queue
 * records, fault recording registers, stream table entries, context
 * descriptors, commands. A decoder that crashes, reads out of bounds or
 * misreports a field on a reserved value turns one odd record into a wrong
 * diagnosis. The input is a sequence of records; each one is checked in two
 * directions:
 *
 *  decode first: arbitrary words are decoded. Whatever the decoder accepts
 *    (returns 0) must encode again: to exactly the same words for the
 *    structures whose decoder rejects unknown bits, and, for event records
 *    (whose decoder reports only the fields an event type defines), to
 *    words that decode to the same fields. The one allowed refusal is an
 *    encoder rejecting a value the header documents as reserved (a decoder
 *    may report reserved values it finds, an encoder must not write them).
 *  encode first: a structure with fields drawn from the input (often in
 *    range, sometimes too wide) is encoded. If the encoder accepts it, the
 *    decoder must accept the words and give back the same fields, and
 *    encoding those gives the same words.
 *
 * Name and translation helpers (event names, fault reasons, IPS encodings)
 * are called with every value a byte can hold: they must return a string or
 * a value, never crash.
 *
 * Deviations already reported (docs/fuzzing.md) are counted through
 * fuzz_known_issue() instead of aborting.
 */
#include <stdint.h>
#include <string.h>

#include <dmap/iommu_hw.h>

#include "fuzz_common.h"

static void read_words(struct fuzz_input *in, uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* Mostly raw bits; sometimes sparse words, closer to real records. */
		switch (fuzz_below(in, 4)) {
		case 0:
			w[i] = 0;
			break;
		case 1:
			w[i] = (uint64_t)1 << fuzz_below(in, 64) | fuzz_u8(in);
			break;
		default:
			w[i] = fuzz_u64(in);
			break;
		}
	}
}

/* A field value: in range for @bits most of the time, one bit too wide sometimes. */
static uint64_t field(struct fuzz_input *in, unsigned int bits)
{
	uint64_t v = fuzz_u64(in);

	if (fuzz_below(in, 8) == 0)
		return bits >= 64 ? v : v & DMAP_BIT_MASK(bits + 1);
	return v & DMAP_BIT_MASK(bits);
}

/* An address with bits [@hi:@lo] only, sometimes with a stray low or high bit. */
static uint64_t addr_field(struct fuzz_input *in, unsigned int hi, unsigned int lo)
{
	uint64_t v = fuzz_u64(in) & (DMAP_BIT_MASK(hi + 1) & ~DMAP_BIT_MASK(lo));

	if (fuzz_below(in, 8) == 0)
		v |= (uint64_t)1 << fuzz_below(in, 64);
	return v;
}

static bool words_equal(const uint64_t *a, const uint64_t *b, size_t n)
{
	return memcmp(a, b, n * sizeof(uint64_t)) == 0;
}

#define DUMP2(w) (unsigned long long)(w)[0], (unsigned long long)(w)[1]

/* ---- SMMUv3 STE ---------------------------------------------------------- */

static bool ste_reserved(const struct dmap_smmu_ste *s)
{
	return (s->config != DMAP_SMMU_STE_CFG_ABORT && s->config != DMAP_SMMU_STE_CFG_BYPASS &&
		s->config != DMAP_SMMU_STE_CFG_S1_TRANS) ||
	       s->s1_fmt == 3 || s->strw == 1 || s->s1dss == 3;
}

static void fuzz_ste(struct fuzz_input *in, bool decode_first)
{
	uint64_t w[DMAP_SMMU_STE_DWORDS], w2[DMAP_SMMU_STE_DWORDS], w3[DMAP_SMMU_STE_DWORDS];
	struct dmap_smmu_ste s, s2;
	int ret;

	if (decode_first) {
		read_words(in, w, DMAP_SMMU_STE_DWORDS);
		if (dmap_smmu_ste_decode(w, &s))
			return;
		/* <dmap/iommu_hw.h>: "decode rejects an STE that uses them (Config S2/nested)". */
		FUZZ_CHECK(s.config != DMAP_SMMU_STE_CFG_S2_TRANS &&
				   s.config != DMAP_SMMU_STE_CFG_NESTED,
			   "STE %llx %llx with stage-2 config %u decodes", DUMP2(w), s.config);
		ret = dmap_smmu_ste_encode(&s, w2);
		if (ret) {
			FUZZ_CHECK(ste_reserved(&s),
				   "STE %llx %llx decodes but does not encode (%d)", DUMP2(w), ret);
			return;
		}
		FUZZ_CHECK(words_equal(w, w2, DMAP_SMMU_STE_DWORDS),
			   "STE %llx %llx re-encodes as %llx %llx", DUMP2(w), DUMP2(w2));
		return;
	}
	memset(&s, 0, sizeof(s));
	s.valid = fuzz_bool(in);
	s.config = (unsigned int)field(in, 3);
	s.s1_fmt = (unsigned int)field(in, 2);
	s.s1_context_ptr = addr_field(in, 51, 6);
	s.s1_cdmax = (unsigned int)field(in, 5);
	s.s1dss = (unsigned int)field(in, 2);
	s.s1cir = (unsigned int)field(in, 2);
	s.s1cor = (unsigned int)field(in, 2);
	s.s1csh = (unsigned int)field(in, 2);
	s.mev = fuzz_bool(in);
	s.s1stalld = fuzz_bool(in);
	s.eats = (unsigned int)field(in, 2);
	s.strw = (unsigned int)field(in, 2);
	s.shcfg = (unsigned int)field(in, 2);
	s.s2vmid = fuzz_u16(in);
	if (dmap_smmu_ste_encode(&s, w)) {
		for (size_t i = 0; i < DMAP_SMMU_STE_DWORDS; i++)
			FUZZ_CHECK(w[i] == 0, "rejected STE left word %zu = %llx", i,
				   (unsigned long long)w[i]);
		return;
	}
	ret = dmap_smmu_ste_decode(w, &s2);
	FUZZ_CHECK(ret == 0, "encoded STE %llx %llx does not decode (%d)", DUMP2(w), ret);
	FUZZ_CHECK(memcmp(&s, &s2, sizeof(s)) == 0, "STE fields change through %llx %llx",
		   DUMP2(w));
	FUZZ_CHECK(dmap_smmu_ste_encode(&s2, w3) == 0 && words_equal(w, w3, DMAP_SMMU_STE_DWORDS),
		   "STE %llx %llx does not re-encode", DUMP2(w));
}

/* ---- SMMUv3 CD ----------------------------------------------------------- */

static void fuzz_cd(struct fuzz_input *in, bool decode_first)
{
	uint64_t w[DMAP_SMMU_CD_DWORDS], w2[DMAP_SMMU_CD_DWORDS];
	struct dmap_smmu_cd s, s2;
	int ret;

	if (decode_first) {
		read_words(in, w, DMAP_SMMU_CD_DWORDS);
		if (dmap_smmu_cd_decode(w, &s))
			return;
		ret = dmap_smmu_cd_encode(&s, w2);
		if (ret) {
			FUZZ_CHECK(s.tg0 == 3 || s.ips > 6,
				   "CD %llx %llx decodes but does not encode (%d)", DUMP2(w), ret);
			return;
		}
		FUZZ_CHECK(words_equal(w, w2, DMAP_SMMU_CD_DWORDS),
			   "CD %llx %llx re-encodes as %llx %llx", DUMP2(w), DUMP2(w2));
		return;
	}
	if (fuzz_bool(in)) {
		/* What the iommu backend builds from its page-table config. */
		uint64_t tcr = fuzz_u64(in), ttbr = addr_field(in, 51, 4), mair = fuzz_u64(in);

		ret = dmap_smmu_cd_from_tcr(&s, tcr, ttbr, mair, fuzz_u16(in));
		FUZZ_CHECK(ret == 0, "cd_from_tcr: %d", ret);
	} else {
		memset(&s, 0, sizeof(s));
		s.valid = fuzz_bool(in);
		s.t0sz = (unsigned int)field(in, 6);
		s.tg0 = (unsigned int)field(in, 2);
		s.ir0 = (unsigned int)field(in, 2);
		s.or0 = (unsigned int)field(in, 2);
		s.sh0 = (unsigned int)field(in, 2);
		s.epd0 = fuzz_bool(in);
		s.epd1 = fuzz_bool(in);
		s.endi = fuzz_bool(in);
		s.ips = (unsigned int)field(in, 3);
		s.affd = fuzz_bool(in);
		s.wxn = fuzz_bool(in);
		s.uwxn = fuzz_bool(in);
		s.tbi0 = fuzz_bool(in);
		s.aa64 = fuzz_bool(in);
		s.hd = fuzz_bool(in);
		s.ha = fuzz_bool(in);
		s.s = fuzz_bool(in);
		s.r = fuzz_bool(in);
		s.a = fuzz_bool(in);
		s.aset = fuzz_bool(in);
		s.asid = fuzz_u16(in);
		s.ttb0 = addr_field(in, 51, 4);
		s.mair = fuzz_u64(in);
	}
	if (dmap_smmu_cd_encode(&s, w))
		return;
	ret = dmap_smmu_cd_decode(w, &s2);
	FUZZ_CHECK(ret == 0, "encoded CD %llx %llx does not decode (%d)", DUMP2(w), ret);
	FUZZ_CHECK(memcmp(&s, &s2, sizeof(s)) == 0, "CD fields change through %llx %llx", DUMP2(w));
}

/* ---- SMMUv3 commands ----------------------------------------------------- */

static void fuzz_cmd(struct fuzz_input *in, bool decode_first)
{
	static const uint8_t opcodes[] = {
		DMAP_SMMU_CMD_PREFETCH_CONFIG,
		DMAP_SMMU_CMD_CFGI_STE,
		DMAP_SMMU_CMD_CFGI_ALL,
		DMAP_SMMU_CMD_CFGI_CD,
		DMAP_SMMU_CMD_CFGI_CD_ALL,
		DMAP_SMMU_CMD_TLBI_NH_ALL,
		DMAP_SMMU_CMD_TLBI_NH_ASID,
		DMAP_SMMU_CMD_TLBI_NH_VA,
		DMAP_SMMU_CMD_TLBI_NH_VAA,
		DMAP_SMMU_CMD_TLBI_EL2_ALL,
		DMAP_SMMU_CMD_TLBI_S12_VMALL,
		DMAP_SMMU_CMD_TLBI_NSNH_ALL,
		DMAP_SMMU_CMD_SYNC,
		0x00,
		0xff,
	};
	uint64_t w[2], w2[2], w3[2];
	struct dmap_smmu_cmd c, c2;
	int ret;

	if (decode_first) {
		read_words(in, w, 2);
		if (fuzz_bool(in))
			w[0] = (w[0] & ~0xffull) | FUZZ_PICK(in, opcodes);
		(void)dmap_smmu_cmd_name((uint8_t)w[0]);
		if (dmap_smmu_cmd_decode(w, &c))
			return;
		ret = dmap_smmu_cmd_encode(&c, w2);
		if (ret) {
			FUZZ_CHECK(c.opcode == DMAP_SMMU_CMD_SYNC && c.cs > DMAP_SMMU_SYNC_CS_SEV,
				   "command %llx %llx decodes but does not encode (%d)", DUMP2(w),
				   ret);
			return;
		}
		/* CFGI_ALL: the encoder always writes Range 31 ("all StreamIDs"). */
		if (c.opcode == DMAP_SMMU_CMD_CFGI_ALL && (w[1] & 0x1f) != 31)
			return;
		FUZZ_CHECK(words_equal(w, w2, 2), "command %llx %llx re-encodes as %llx %llx",
			   DUMP2(w), DUMP2(w2));
		return;
	}
	memset(&c, 0, sizeof(c));
	c.opcode = FUZZ_PICK(in, opcodes);
	c.ssv = fuzz_bool(in);
	c.sid = fuzz_u32(in);
	c.ssid = (uint32_t)field(in, 20);
	c.leaf = fuzz_bool(in);
	c.range = (uint8_t)field(in, 5);
	c.asid = fuzz_u16(in);
	c.vmid = fuzz_u16(in);
	c.num = (uint8_t)field(in, 5);
	c.scale = (uint8_t)field(in, 5);
	c.ttl = (uint8_t)field(in, 2);
	c.tg = (uint8_t)field(in, 2);
	c.addr = addr_field(in, 63, 12);
	c.cs = (unsigned int)field(in, 2);
	c.msh = (unsigned int)field(in, 2);
	c.msiattr = (unsigned int)field(in, 4);
	c.msidata = fuzz_u32(in);
	c.msiaddr = addr_field(in, 51, 2);
	if (dmap_smmu_cmd_encode(&c, w)) {
		FUZZ_CHECK(w[0] == 0 && w[1] == 0, "rejected command left %llx %llx", DUMP2(w));
		return;
	}
	FUZZ_CHECK((uint8_t)w[0] == c.opcode, "command %s encodes opcode %02x",
		   dmap_smmu_cmd_name(c.opcode), (unsigned int)(uint8_t)w[0]);
	ret = dmap_smmu_cmd_decode(w, &c2);
	FUZZ_CHECK(ret == 0, "encoded %s %llx %llx does not decode (%d)",
		   dmap_smmu_cmd_name(c.opcode), DUMP2(w), ret);
	FUZZ_CHECK(dmap_smmu_cmd_encode(&c2, w3) == 0 && words_equal(w, w3, 2),
		   "%s %llx %llx does not re-encode", dmap_smmu_cmd_name(c.opcode), DUMP2(w));
}

/* ---- SMMUv3 event records ------------------------------------------------ */

static void fuzz_event(struct fuzz_input *in, bool decode_first)
{
	static const uint8_t ids[] = {
		DMAP_SMMU_EVT_F_UUT,
		DMAP_SMMU_EVT_C_BAD_STREAMID,
		DMAP_SMMU_EVT_F_STE_FETCH,
		DMAP_SMMU_EVT_C_BAD_STE,
		DMAP_SMMU_EVT_F_BAD_ATS_TREQ,
		DMAP_SMMU_EVT_F_STREAM_DISABLED,
		DMAP_SMMU_EVT_F_TRANSL_FORBIDDEN,
		DMAP_SMMU_EVT_C_BAD_SUBSTREAMID,
		DMAP_SMMU_EVT_F_CD_FETCH,
		DMAP_SMMU_EVT_C_BAD_CD,
		DMAP_SMMU_EVT_F_WALK_EABT,
		DMAP_SMMU_EVT_F_TRANSLATION,
		DMAP_SMMU_EVT_F_ADDR_SIZE,
		DMAP_SMMU_EVT_F_ACCESS,
		DMAP_SMMU_EVT_F_PERMISSION,
		DMAP_SMMU_EVT_F_TLB_CONFLICT,
		DMAP_SMMU_EVT_F_CFG_CONFLICT,
		DMAP_SMMU_EVT_E_PAGE_REQUEST,
		DMAP_SMMU_EVT_F_VMS_FETCH,
		0x00,
		0xff,
	};
	uint64_t w[DMAP_SMMU_EVT_DWORDS], w2[DMAP_SMMU_EVT_DWORDS];
	struct dmap_smmu_event e, e2;
	int ret;

	if (decode_first) {
		read_words(in, w, DMAP_SMMU_EVT_DWORDS);
		if (fuzz_bool(in))
			w[0] = (w[0] & ~0xffull) | FUZZ_PICK(in, ids);
		ret = dmap_smmu_event_decode(w, &e);
		FUZZ_CHECK(ret == 0, "event decode: %d", ret);
		(void)dmap_smmu_event_name(e.id);
	} else {
		memset(&e, 0, sizeof(e));
		e.id = FUZZ_PICK(in, ids);
		e.ssv = fuzz_bool(in);
		e.ssid = (uint32_t)field(in, 20);
		e.sid = fuzz_u32(in);
		e.stag = fuzz_u16(in);
		e.stall = fuzz_bool(in);
		e.pnu = fuzz_bool(in);
		e.ind = fuzz_bool(in);
		e.rnw = fuzz_bool(in);
		e.s2 = fuzz_bool(in);
		e.class_ = (unsigned int)field(in, 2);
		e.input_addr = fuzz_u64(in);
		e.ipa = addr_field(in, 51, 12);
		e.fetch_addr = addr_field(in, 51, 3);
		if (dmap_smmu_event_encode(&e, w))
			return;
		ret = dmap_smmu_event_decode(w, &e);
		FUZZ_CHECK(ret == 0, "event decode: %d", ret);
	}
	/* Whatever the decoder reported must survive encode + decode. */
	ret = dmap_smmu_event_encode(&e, w2);
	FUZZ_CHECK(ret == 0, "decoded event %s (%llx %llx) does not encode (%d)",
		   dmap_smmu_event_name(e.id), DUMP2(w), ret);
	ret = dmap_smmu_event_decode(w2, &e2);
	FUZZ_CHECK(ret == 0, "event decode: %d", ret);
	/* SSID is defined only with SSV; the encoder writes it only then. */
	FUZZ_CHECK(e.ssv || !e.ssid, "event %s (%llx %llx) reports SSID %x without SSV",
		   dmap_smmu_event_name(e.id), DUMP2(w), e.ssid);
	FUZZ_CHECK(memcmp(&e, &e2, sizeof(e)) == 0,
		   "event %s: fields change through encode/decode (%llx %llx -> %llx %llx)",
		   dmap_smmu_event_name(e.id), DUMP2(w), DUMP2(w2));
}

/* ---- VT-d root and context entries --------------------------------------- */

static void fuzz_vtd_root(struct fuzz_input *in, bool decode_first)
{
	uint64_t w[2], w2[2];
	struct dmap_vtd_root_entry r, r2;

	if (decode_first) {
		read_words(in, w, 2);
		if (dmap_vtd_root_entry_decode(w, &r))
			return;
		FUZZ_CHECK(dmap_vtd_root_entry_encode(&r, w2) == 0 && words_equal(w, w2, 2),
			   "root entry %llx %llx re-encodes as %llx %llx", DUMP2(w), DUMP2(w2));
		return;
	}
	memset(&r, 0, sizeof(r));
	r.present = fuzz_bool(in);
	r.ctp = addr_field(in, 63, 12);
	if (dmap_vtd_root_entry_encode(&r, w))
		return;
	FUZZ_CHECK(dmap_vtd_root_entry_decode(w, &r2) == 0 && memcmp(&r, &r2, sizeof(r)) == 0,
		   "root entry %llx %llx: fields change", DUMP2(w));
}

static void fuzz_vtd_context(struct fuzz_input *in, bool decode_first)
{
	uint64_t w[2], w2[2];
	struct dmap_vtd_context_entry c, c2;
	int ret;

	if (decode_first) {
		read_words(in, w, 2);
		if (dmap_vtd_context_entry_decode(w, &c))
			return;
		ret = dmap_vtd_context_entry_encode(&c, w2);
		if (ret) {
			FUZZ_CHECK(c.tt == 3 || c.aw < 1 || c.aw > 3,
				   "context entry %llx %llx decodes but does not encode (%d)",
				   DUMP2(w), ret);
			return;
		}
		FUZZ_CHECK(words_equal(w, w2, 2), "context entry %llx %llx re-encodes as %llx %llx",
			   DUMP2(w), DUMP2(w2));
		return;
	}
	memset(&c, 0, sizeof(c));
	c.present = fuzz_bool(in);
	c.fpd = fuzz_bool(in);
	c.tt = (unsigned int)field(in, 2);
	c.slptptr = addr_field(in, 63, 12);
	c.aw = (unsigned int)field(in, 3);
	c.did = fuzz_u16(in);
	if (dmap_vtd_context_entry_encode(&c, w))
		return;
	FUZZ_CHECK(dmap_vtd_context_entry_decode(w, &c2) == 0 && memcmp(&c, &c2, sizeof(c)) == 0,
		   "context entry %llx %llx: fields change", DUMP2(w));
}

/* ---- VT-d register commands ---------------------------------------------- */

static void fuzz_vtd_ccmd(struct fuzz_input *in, bool decode_first)
{
	uint64_t w, w2;
	struct dmap_vtd_ccmd c, c2;
	int ret;

	if (decode_first) {
		read_words(in, &w, 1);
		if (dmap_vtd_ccmd_decode(w, &c))
			return;
		ret = dmap_vtd_ccmd_encode(&c, &w2);
		if (ret) {
			FUZZ_CHECK(c.cirg == 0, "CCMD %llx decodes but does not encode (%d)",
				   (unsigned long long)w, ret);
			return;
		}
		FUZZ_CHECK(w == w2, "CCMD %llx re-encodes as %llx", (unsigned long long)w,
			   (unsigned long long)w2);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.icc = fuzz_bool(in);
	c.cirg = (unsigned int)field(in, 2);
	c.caig = (unsigned int)field(in, 2);
	c.fm = (unsigned int)field(in, 2);
	c.sid = fuzz_u16(in);
	c.did = fuzz_u16(in);
	if (dmap_vtd_ccmd_encode(&c, &w))
		return;
	FUZZ_CHECK(dmap_vtd_ccmd_decode(w, &c2) == 0 && memcmp(&c, &c2, sizeof(c)) == 0,
		   "CCMD %llx: fields change", (unsigned long long)w);
}

static bool vtd_page_misaligned(uint64_t addr, unsigned int am)
{
	uint64_t align = am >= 52 ? 0 : (uint64_t)4096 << am;

	return align ? (addr & (align - 1)) != 0 : addr != 0;
}

static void fuzz_vtd_iotlb(struct fuzz_input *in, bool decode_first)
{
	uint64_t w[2], w2[2];
	struct dmap_vtd_iotlb_cmd c, c2;
	int ret;

	if (decode_first) {
		read_words(in, w, 2);
		if (dmap_vtd_iotlb_cmd_decode(w[0], w[1], &c))
			return;
		ret = dmap_vtd_iotlb_cmd_encode(&c, &w2[0], &w2[1]);
		if (ret) {
			FUZZ_CHECK(c.iirg == 0 || (c.iirg == DMAP_VTD_INV_PAGE &&
						   vtd_page_misaligned(c.addr, c.am)),
				   "IOTLB command %llx %llx decodes but does not encode (%d)",
				   DUMP2(w), ret);
			return;
		}
		if (c.iirg != DMAP_VTD_INV_PAGE) {
			/* IVA_REG is only defined for page-selective invalidation. */
			FUZZ_CHECK(
				!c.am && !c.ih && !c.addr,
				"IOTLB command %llx %llx reports IVA fields without page granularity",
				DUMP2(w));
			w[1] = 0;
		}
		FUZZ_CHECK(words_equal(w, w2, 2), "IOTLB command %llx %llx re-encodes as %llx %llx",
			   DUMP2(w), DUMP2(w2));
		return;
	}
	memset(&c, 0, sizeof(c));
	c.ivt = fuzz_bool(in);
	c.iirg = (unsigned int)field(in, 2);
	c.iaig = (unsigned int)field(in, 2);
	c.dr = fuzz_bool(in);
	c.dw = fuzz_bool(in);
	c.did = fuzz_u16(in);
	c.am = (unsigned int)field(in, 6);
	c.ih = fuzz_bool(in);
	c.addr = addr_field(in, 63, 12 + fuzz_below(in, 10));
	if (dmap_vtd_iotlb_cmd_encode(&c, &w[0], &w[1]))
		return;
	ret = dmap_vtd_iotlb_cmd_decode(w[0], w[1], &c2);
	FUZZ_CHECK(ret == 0, "IOTLB command %llx %llx does not decode (%d)", DUMP2(w), ret);
	if (c.iirg != DMAP_VTD_INV_PAGE) {
		c.am = 0;
		c.ih = false;
		c.addr = 0;
	}
	FUZZ_CHECK(memcmp(&c, &c2, sizeof(c)) == 0, "IOTLB command %llx %llx: fields change",
		   DUMP2(w));
}

static void fuzz_vtd_inv(struct fuzz_input *in, bool decode_first)
{
	uint64_t w[2], w2[2];
	struct dmap_vtd_inv_desc d, d2;
	int ret;

	if (decode_first) {
		read_words(in, w, 2);
		if (fuzz_bool(in))
			w[0] = (w[0] & ~0xfull) | (1 + fuzz_below(in, 5));
		if (dmap_vtd_inv_desc_decode(w, &d))
			return;
		ret = dmap_vtd_inv_desc_encode(&d, w2);
		if (ret) {
			FUZZ_CHECK((d.type != DMAP_VTD_QI_WAIT && d.granularity == 0) ||
					   (d.type == DMAP_VTD_QI_IOTLB &&
					    d.granularity == DMAP_VTD_INV_PAGE &&
					    vtd_page_misaligned(d.addr, d.am)),
				   "descriptor %llx %llx decodes but does not encode (%d)",
				   DUMP2(w), ret);
			return;
		}
		if (d.type == DMAP_VTD_QI_IOTLB && d.granularity != DMAP_VTD_INV_PAGE) {
			/* AM, IH and ADDR are defined only for page granularity. */
			FUZZ_CHECK(
				!d.am && !d.ih && !d.addr,
				"IOTLB descriptor %llx %llx reports ADDR without page granularity",
				DUMP2(w));
			w[1] = 0;
		}
		if (d.type == DMAP_VTD_QI_WAIT && !d.sw) {
			/* Status data and address are defined only with SW. */
			FUZZ_CHECK(!d.status_data && !d.status_addr,
				   "wait descriptor %llx %llx reports status without SW", DUMP2(w));
			w[0] &= 0xffffffffull;
			w[1] = 0;
		}
		FUZZ_CHECK(words_equal(w, w2, 2), "descriptor %llx %llx re-encodes as %llx %llx",
			   DUMP2(w), DUMP2(w2));
		return;
	}
	memset(&d, 0, sizeof(d));
	d.type = (unsigned int)field(in, 3);
	d.granularity = (unsigned int)field(in, 2);
	d.did = fuzz_u16(in);
	d.sid = fuzz_u16(in);
	d.fm = (unsigned int)field(in, 2);
	d.dr = fuzz_bool(in);
	d.dw = fuzz_bool(in);
	d.ih = fuzz_bool(in);
	d.am = (unsigned int)field(in, 6);
	d.addr = addr_field(in, 63, 12 + fuzz_below(in, 10));
	d.iflag = fuzz_bool(in);
	d.sw = fuzz_bool(in);
	d.fn = fuzz_bool(in);
	d.pd = fuzz_bool(in);
	d.status_data = fuzz_u32(in);
	d.status_addr = addr_field(in, 63, 2);
	if (dmap_vtd_inv_desc_encode(&d, w)) {
		FUZZ_CHECK(w[0] == 0 && w[1] == 0, "rejected descriptor left %llx %llx", DUMP2(w));
		return;
	}
	ret = dmap_vtd_inv_desc_decode(w, &d2);
	FUZZ_CHECK(ret == 0, "descriptor %llx %llx does not decode (%d)", DUMP2(w), ret);
	FUZZ_CHECK(dmap_vtd_inv_desc_encode(&d2, w2) == 0 && words_equal(w, w2, 2),
		   "descriptor %llx %llx does not re-encode", DUMP2(w));
}

/* ---- VT-d fault recording registers -------------------------------------- */

static void fuzz_vtd_fault(struct fuzz_input *in, bool decode_first)
{
	uint64_t w[2], w2[2];
	struct dmap_vtd_fault_record f, f2;
	int ret;

	if (decode_first) {
		read_words(in, w, 2);
		if (dmap_vtd_fault_record_decode(w, &f))
			return;
		(void)dmap_vtd_fault_reason_name(f.reason);
		ret = dmap_vtd_fault_record_encode(&f, w2);
		FUZZ_CHECK(ret == 0, "fault record %llx %llx decodes but does not encode (%d)",
			   DUMP2(w), ret);
		if (!f.pasid_present) {
			/* PV is defined only with PP; the encoder writes it only then. */
			FUZZ_CHECK(!f.pasid, "fault record %llx %llx reports PASID %x without PP",
				   DUMP2(w), f.pasid);
			w[1] &= ~(DMAP_BIT_MASK(20) << 40);
		}
		FUZZ_CHECK(words_equal(w, w2, 2), "fault record %llx %llx re-encodes as %llx %llx",
			   DUMP2(w), DUMP2(w2));
		return;
	}
	memset(&f, 0, sizeof(f));
	f.fault_info = addr_field(in, 63, 12);
	f.sid = fuzz_u16(in);
	f.t2 = fuzz_bool(in);
	f.priv = fuzz_bool(in);
	f.exe = fuzz_bool(in);
	f.pasid_present = fuzz_bool(in);
	f.reason = fuzz_u8(in);
	f.pasid = (uint32_t)field(in, 20);
	f.at = (unsigned int)field(in, 2);
	f.type = (unsigned int)field(in, 1);
	f.fault = fuzz_bool(in);
	if (dmap_vtd_fault_record_encode(&f, w))
		return;
	ret = dmap_vtd_fault_record_decode(w, &f2);
	FUZZ_CHECK(ret == 0, "fault record %llx %llx does not decode (%d)", DUMP2(w), ret);
	if (!f.pasid_present)
		f.pasid = 0;
	f.fault_info &= ~(uint64_t)0xfff; /* a page address: the encoder drops the offset */
	FUZZ_CHECK(memcmp(&f, &f2, sizeof(f)) == 0, "fault record %llx %llx: fields change",
		   DUMP2(w));
}

/* ---- helpers on arbitrary values ------------------------------------------ */

static void fuzz_helpers(struct fuzz_input *in)
{
	unsigned int bits = fuzz_u8(in);
	int ips = dmap_arm_ips_encode(bits);
	enum dmap_fault_reason reason = (enum dmap_fault_reason)fuzz_below(in, 10);
	unsigned int access = fuzz_u8(in);
	uint8_t vtd;

	if (ips >= 0)
		FUZZ_CHECK(dmap_arm_ips_bits((unsigned int)ips) == bits, "IPS %u -> %d -> %u", bits,
			   ips, dmap_arm_ips_bits((unsigned int)ips));
	else
		FUZZ_CHECK(ips == -DMAP_EINVAL, "dmap_arm_ips_encode(%u): %d", bits, ips);
	(void)dmap_arm_ips_bits(fuzz_u32(in));
	FUZZ_CHECK(dmap_smmu_event_name(fuzz_u8(in)) != NULL, "event name");
	FUZZ_CHECK(dmap_smmu_cmd_name(fuzz_u8(in)) != NULL, "command name");
	(void)dmap_smmu_event_for_fault(reason);
	vtd = dmap_vtd_fault_reason_for(reason, access);
	FUZZ_CHECK(dmap_vtd_fault_reason_name(vtd) != NULL, "fault reason name");
	FUZZ_CHECK(dmap_vtd_fault_reason_name(fuzz_u8(in)) != NULL, "fault reason name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const kinds[])(struct fuzz_input *, bool) = {
		fuzz_ste,	  fuzz_cd,	 fuzz_cmd,	 fuzz_event,   fuzz_vtd_root,
		fuzz_vtd_context, fuzz_vtd_ccmd, fuzz_vtd_iotlb, fuzz_vtd_inv, fuzz_vtd_fault,
	};
	struct fuzz_input in;

	fuzz_input_init(&in, data, size);
	while (!fuzz_done(&in)) {
		uint8_t op = fuzz_u8(&in);
		unsigned int kind = (op >> 1) % (sizeof(kinds) / sizeof(kinds[0]) + 1);

		if (kind == sizeof(kinds) / sizeof(kinds[0]))
			fuzz_helpers(&in);
		else
			kinds[kind](&in, op & 1);
	}
	return 0;
}
