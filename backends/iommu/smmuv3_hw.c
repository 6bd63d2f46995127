/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/smmuv3_hw.c - encoders and decoders for the in-memory
 * structures of an Arm SMMUv3 (IHI 0070): stream table entries, context
 * descriptors, command-queue entries and event records.
 *
 * Why structs of named fields instead of macros on raw words: a bare-metal
 * frontend and the tests both want to say "an S1 STE pointing at this CD"
 * and get the exact 64-byte image, and the fault log wants to say "what did
 * this event record mean" without a second copy of the bit positions. One
 * table of (word, high bit, low bit) per structure drives both directions,
 * so encode and decode cannot disagree, and decode can tell when a record
 * carries bits outside what dmap models (it returns -EINVAL, having decoded
 * the rest). Encode refuses values that do not fit their field rather than
 * truncating them: a truncated StreamID or table address is a silent
 * misprogramming of real hardware.
 */
#include <dmap/iommu_hw.h>
#include <dmap/helpers.h>

#include "hw_field.h"

int dmap_arm_ips_encode(unsigned int bits)
{
	switch (bits) {
	case 32:
		return 0;
	case 36:
		return 1;
	case 40:
		return 2;
	case 42:
		return 3;
	case 44:
		return 4;
	case 48:
		return 5;
	case 52:
		return 6;
	}
	return -DMAP_EINVAL;
}

unsigned int dmap_arm_ips_bits(unsigned int ips)
{
	static const unsigned char bits[] = { 32, 36, 40, 42, 44, 48, 52 };

	return ips < DMAP_ARRAY_SIZE(bits) ? bits[ips] : 0;
}

/* ---- STE (5.2) ---------------------------------------------------------- */

static const struct hw_field STE_V = { 0, 0, 0 };
static const struct hw_field STE_CONFIG = { 0, 3, 1 };
static const struct hw_field STE_S1FMT = { 0, 5, 4 };
static const struct hw_field STE_S1CTXPTR = { 0, 51, 6 };
static const struct hw_field STE_S1CDMAX = { 0, 63, 59 };
static const struct hw_field STE_S1DSS = { 1, 1, 0 };
static const struct hw_field STE_S1CIR = { 1, 3, 2 };
static const struct hw_field STE_S1COR = { 1, 5, 4 };
static const struct hw_field STE_S1CSH = { 1, 7, 6 };
static const struct hw_field STE_MEV = { 1, 19, 19 };
static const struct hw_field STE_S1STALLD = { 1, 27, 27 };
static const struct hw_field STE_EATS = { 1, 29, 28 };
static const struct hw_field STE_STRW = { 1, 31, 30 };
static const struct hw_field STE_SHCFG = { 1, 45, 44 };
static const struct hw_field STE_S2VMID = { 2, 15, 0 };

int dmap_smmu_ste_encode(const struct dmap_smmu_ste *ste, uint64_t out[DMAP_SMMU_STE_DWORDS])
{
	bool ok = true;

	if (!out)
		return -DMAP_EINVAL;
	dmap_memset(out, 0, DMAP_SMMU_STE_DWORDS * sizeof(uint64_t));
	if (!ste)
		return -DMAP_EINVAL;
	/* 0b001..0b011 are reserved; dmap programs no stage 2. */
	if (ste->config != DMAP_SMMU_STE_CFG_ABORT && ste->config != DMAP_SMMU_STE_CFG_BYPASS &&
	    ste->config != DMAP_SMMU_STE_CFG_S1_TRANS)
		ok = false;
	if (ste->s1_fmt == 3 || ste->strw == 1 || ste->s1dss == 3)
		ok = false;
	ok = ok && put(out, STE_V, ste->valid) && put(out, STE_CONFIG, ste->config) &&
	     put(out, STE_S1FMT, ste->s1_fmt) && put_addr(out, STE_S1CTXPTR, ste->s1_context_ptr) &&
	     put(out, STE_S1CDMAX, ste->s1_cdmax) && put(out, STE_S1DSS, ste->s1dss) &&
	     put(out, STE_S1CIR, ste->s1cir) && put(out, STE_S1COR, ste->s1cor) &&
	     put(out, STE_S1CSH, ste->s1csh) && put(out, STE_MEV, ste->mev) &&
	     put(out, STE_S1STALLD, ste->s1stalld) && put(out, STE_EATS, ste->eats) &&
	     put(out, STE_STRW, ste->strw) && put(out, STE_SHCFG, ste->shcfg) &&
	     put(out, STE_S2VMID, ste->s2vmid);
	if (!ok) {
		dmap_memset(out, 0, DMAP_SMMU_STE_DWORDS * sizeof(uint64_t));
		return -DMAP_EINVAL;
	}
	return 0;
}

int dmap_smmu_ste_decode(const uint64_t in[DMAP_SMMU_STE_DWORDS], struct dmap_smmu_ste *ste)
{
	uint64_t known[DMAP_SMMU_STE_DWORDS] = { 0 };
	static const struct hw_field *fields[] = {
		&STE_V,	       &STE_CONFIG, &STE_S1FMT, &STE_S1CTXPTR, &STE_S1CDMAX,
		&STE_S1DSS,    &STE_S1CIR,  &STE_S1COR, &STE_S1CSH,    &STE_MEV,
		&STE_S1STALLD, &STE_EATS,   &STE_STRW,	&STE_SHCFG,    &STE_S2VMID,
	};

	if (!in || !ste)
		return -DMAP_EINVAL;
	dmap_memset(ste, 0, sizeof(*ste));
	ste->valid = get(in, STE_V);
	ste->config = (unsigned int)get(in, STE_CONFIG);
	ste->s1_fmt = (unsigned int)get(in, STE_S1FMT);
	ste->s1_context_ptr = get_addr(in, STE_S1CTXPTR);
	ste->s1_cdmax = (unsigned int)get(in, STE_S1CDMAX);
	ste->s1dss = (unsigned int)get(in, STE_S1DSS);
	ste->s1cir = (unsigned int)get(in, STE_S1CIR);
	ste->s1cor = (unsigned int)get(in, STE_S1COR);
	ste->s1csh = (unsigned int)get(in, STE_S1CSH);
	ste->mev = get(in, STE_MEV);
	ste->s1stalld = get(in, STE_S1STALLD);
	ste->eats = (unsigned int)get(in, STE_EATS);
	ste->strw = (unsigned int)get(in, STE_STRW);
	ste->shcfg = (unsigned int)get(in, STE_SHCFG);
	ste->s2vmid = (uint16_t)get(in, STE_S2VMID);
	/*
	 * Stage-2 and nested STEs carry S2 fields this structure does not
	 * hold: reporting one as valid would drop its stage-2 half silently.
	 */
	if (ste->config == DMAP_SMMU_STE_CFG_S2_TRANS || ste->config == DMAP_SMMU_STE_CFG_NESTED)
		return -DMAP_EINVAL;
	for (size_t i = 0; i < DMAP_ARRAY_SIZE(fields); i++)
		known[fields[i]->word] |= field_mask(*fields[i]);
	for (size_t i = 0; i < DMAP_SMMU_STE_DWORDS; i++)
		if (in[i] & ~known[i])
			return -DMAP_EINVAL;
	return 0;
}

/* ---- CD (5.4) ----------------------------------------------------------- */

static const struct hw_field CD_T0SZ = { 0, 5, 0 };
static const struct hw_field CD_TG0 = { 0, 7, 6 };
static const struct hw_field CD_IR0 = { 0, 9, 8 };
static const struct hw_field CD_OR0 = { 0, 11, 10 };
static const struct hw_field CD_SH0 = { 0, 13, 12 };
static const struct hw_field CD_EPD0 = { 0, 14, 14 };
static const struct hw_field CD_ENDI = { 0, 15, 15 };
static const struct hw_field CD_EPD1 = { 0, 30, 30 };
static const struct hw_field CD_V = { 0, 31, 31 };
static const struct hw_field CD_IPS = { 0, 34, 32 };
static const struct hw_field CD_AFFD = { 0, 35, 35 };
static const struct hw_field CD_WXN = { 0, 36, 36 };
static const struct hw_field CD_UWXN = { 0, 37, 37 };
static const struct hw_field CD_TBI0 = { 0, 38, 38 };
static const struct hw_field CD_AA64 = { 0, 41, 41 };
static const struct hw_field CD_HD = { 0, 42, 42 };
static const struct hw_field CD_HA = { 0, 43, 43 };
static const struct hw_field CD_S = { 0, 44, 44 };
static const struct hw_field CD_R = { 0, 45, 45 };
static const struct hw_field CD_A = { 0, 46, 46 };
static const struct hw_field CD_ASET = { 0, 47, 47 };
static const struct hw_field CD_ASID = { 0, 63, 48 };
static const struct hw_field CD_TTB0 = { 1, 51, 4 };
static const struct hw_field CD_MAIR = { 3, 63, 0 };

int dmap_smmu_cd_encode(const struct dmap_smmu_cd *cd, uint64_t out[DMAP_SMMU_CD_DWORDS])
{
	bool ok;

	if (!out)
		return -DMAP_EINVAL;
	dmap_memset(out, 0, DMAP_SMMU_CD_DWORDS * sizeof(uint64_t));
	if (!cd)
		return -DMAP_EINVAL;
	ok = cd->tg0 != 3 && cd->ips <= 6;
	ok = ok && put(out, CD_T0SZ, cd->t0sz) && put(out, CD_TG0, cd->tg0) &&
	     put(out, CD_IR0, cd->ir0) && put(out, CD_OR0, cd->or0) && put(out, CD_SH0, cd->sh0) &&
	     put(out, CD_EPD0, cd->epd0) && put(out, CD_ENDI, cd->endi) &&
	     put(out, CD_EPD1, cd->epd1) && put(out, CD_V, cd->valid) &&
	     put(out, CD_IPS, cd->ips) && put(out, CD_AFFD, cd->affd) &&
	     put(out, CD_WXN, cd->wxn) && put(out, CD_UWXN, cd->uwxn) &&
	     put(out, CD_TBI0, cd->tbi0) && put(out, CD_AA64, cd->aa64) &&
	     put(out, CD_HD, cd->hd) && put(out, CD_HA, cd->ha) && put(out, CD_S, cd->s) &&
	     put(out, CD_R, cd->r) && put(out, CD_A, cd->a) && put(out, CD_ASET, cd->aset) &&
	     put(out, CD_ASID, cd->asid) && put_addr(out, CD_TTB0, cd->ttb0) &&
	     put(out, CD_MAIR, cd->mair);
	if (!ok) {
		dmap_memset(out, 0, DMAP_SMMU_CD_DWORDS * sizeof(uint64_t));
		return -DMAP_EINVAL;
	}
	return 0;
}

int dmap_smmu_cd_decode(const uint64_t in[DMAP_SMMU_CD_DWORDS], struct dmap_smmu_cd *cd)
{
	static const struct hw_field *fields[] = {
		&CD_T0SZ, &CD_TG0, &CD_IR0,  &CD_OR0, &CD_SH0,	&CD_EPD0, &CD_ENDI, &CD_EPD1,
		&CD_V,	  &CD_IPS, &CD_AFFD, &CD_WXN, &CD_UWXN, &CD_TBI0, &CD_AA64, &CD_HD,
		&CD_HA,	  &CD_S,   &CD_R,    &CD_A,   &CD_ASET, &CD_ASID, &CD_TTB0, &CD_MAIR,
	};
	uint64_t known[DMAP_SMMU_CD_DWORDS] = { 0 };

	if (!in || !cd)
		return -DMAP_EINVAL;
	dmap_memset(cd, 0, sizeof(*cd));
	cd->t0sz = (unsigned int)get(in, CD_T0SZ);
	cd->tg0 = (unsigned int)get(in, CD_TG0);
	cd->ir0 = (unsigned int)get(in, CD_IR0);
	cd->or0 = (unsigned int)get(in, CD_OR0);
	cd->sh0 = (unsigned int)get(in, CD_SH0);
	cd->epd0 = get(in, CD_EPD0);
	cd->endi = get(in, CD_ENDI);
	cd->epd1 = get(in, CD_EPD1);
	cd->valid = get(in, CD_V);
	cd->ips = (unsigned int)get(in, CD_IPS);
	cd->affd = get(in, CD_AFFD);
	cd->wxn = get(in, CD_WXN);
	cd->uwxn = get(in, CD_UWXN);
	cd->tbi0 = get(in, CD_TBI0);
	cd->aa64 = get(in, CD_AA64);
	cd->hd = get(in, CD_HD);
	cd->ha = get(in, CD_HA);
	cd->s = get(in, CD_S);
	cd->r = get(in, CD_R);
	cd->a = get(in, CD_A);
	cd->aset = get(in, CD_ASET);
	cd->asid = (uint16_t)get(in, CD_ASID);
	cd->ttb0 = get_addr(in, CD_TTB0);
	cd->mair = get(in, CD_MAIR);
	for (size_t i = 0; i < DMAP_ARRAY_SIZE(fields); i++)
		known[fields[i]->word] |= field_mask(*fields[i]);
	for (size_t i = 0; i < DMAP_SMMU_CD_DWORDS; i++)
		if (in[i] & ~known[i])
			return -DMAP_EINVAL;
	return 0;
}

int dmap_smmu_cd_from_tcr(struct dmap_smmu_cd *cd, uint64_t tcr, uint64_t ttbr, uint64_t mair,
			  uint16_t asid)
{
	if (!cd)
		return -DMAP_EINVAL;
	dmap_memset(cd, 0, sizeof(*cd));
	cd->valid = true;
	cd->t0sz = (unsigned int)(tcr >> DMAP_ARM_TCR_T0SZ_SHIFT) & 0x3f;
	cd->ir0 = (unsigned int)(tcr >> DMAP_ARM_TCR_IRGN0_SHIFT) & 3;
	cd->or0 = (unsigned int)(tcr >> DMAP_ARM_TCR_ORGN0_SHIFT) & 3;
	cd->sh0 = (unsigned int)(tcr >> DMAP_ARM_TCR_SH0_SHIFT) & 3;
	cd->tg0 = (unsigned int)(tcr >> DMAP_ARM_TCR_TG0_SHIFT) & 3;
	cd->ips = (unsigned int)(tcr >> DMAP_ARM_TCR_IPS_SHIFT) & 7;
	cd->epd1 = true;
	cd->aa64 = true;
	cd->r = true;
	cd->a = true;
	cd->aset = true;
	cd->asid = asid;
	cd->ttb0 = ttbr;
	cd->mair = mair;
	return 0;
}

/* ---- commands (4.x) ----------------------------------------------------- */

static const struct hw_field CMD_OP = { 0, 7, 0 };
static const struct hw_field CMD_SSV = { 0, 11, 11 };
static const struct hw_field CMD_SSID = { 0, 31, 12 };
static const struct hw_field CMD_SID = { 0, 63, 32 };
static const struct hw_field CMD_LEAF = { 1, 0, 0 };
static const struct hw_field CMD_RANGE = { 1, 4, 0 };
static const struct hw_field CMD_TLBI_NUM = { 0, 16, 12 };
static const struct hw_field CMD_TLBI_SCALE = { 0, 24, 20 };
static const struct hw_field CMD_TLBI_VMID = { 0, 47, 32 };
static const struct hw_field CMD_TLBI_ASID = { 0, 63, 48 };
static const struct hw_field CMD_TLBI_TTL = { 1, 9, 8 };
static const struct hw_field CMD_TLBI_TG = { 1, 11, 10 };
static const struct hw_field CMD_TLBI_ADDR = { 1, 63, 12 };
static const struct hw_field CMD_SYNC_CS = { 0, 13, 12 };
static const struct hw_field CMD_SYNC_MSH = { 0, 23, 22 };
static const struct hw_field CMD_SYNC_MSIATTR = { 0, 27, 24 };
static const struct hw_field CMD_SYNC_MSIDATA = { 0, 63, 32 };
static const struct hw_field CMD_SYNC_MSIADDR = { 1, 51, 2 };

const char *dmap_smmu_cmd_name(uint8_t opcode)
{
	switch (opcode) {
	case DMAP_SMMU_CMD_PREFETCH_CONFIG:
		return "CMD_PREFETCH_CONFIG";
	case DMAP_SMMU_CMD_CFGI_STE:
		return "CMD_CFGI_STE";
	case DMAP_SMMU_CMD_CFGI_ALL:
		return "CMD_CFGI_ALL";
	case DMAP_SMMU_CMD_CFGI_CD:
		return "CMD_CFGI_CD";
	case DMAP_SMMU_CMD_CFGI_CD_ALL:
		return "CMD_CFGI_CD_ALL";
	case DMAP_SMMU_CMD_TLBI_NH_ALL:
		return "CMD_TLBI_NH_ALL";
	case DMAP_SMMU_CMD_TLBI_NH_ASID:
		return "CMD_TLBI_NH_ASID";
	case DMAP_SMMU_CMD_TLBI_NH_VA:
		return "CMD_TLBI_NH_VA";
	case DMAP_SMMU_CMD_TLBI_NH_VAA:
		return "CMD_TLBI_NH_VAA";
	case DMAP_SMMU_CMD_TLBI_EL2_ALL:
		return "CMD_TLBI_EL2_ALL";
	case DMAP_SMMU_CMD_TLBI_S12_VMALL:
		return "CMD_TLBI_S12_VMALL";
	case DMAP_SMMU_CMD_TLBI_NSNH_ALL:
		return "CMD_TLBI_NSNH_ALL";
	case DMAP_SMMU_CMD_SYNC:
		return "CMD_SYNC";
	}
	return "unknown";
}

/* Apply (encode) or extract (decode) the opcode-specific fields; builds the known-bit mask. */
static bool cmd_fields(uint8_t op, struct dmap_smmu_cmd *cmd, uint64_t *words, bool encode,
		       uint64_t known[2])
{
#define F(field, member)                                                          \
	do {                                                                      \
		known[(field).word] |= field_mask(field);                         \
		if (encode) {                                                     \
			if (!put(words, field, (uint64_t)cmd->member))            \
				return false;                                     \
		} else {                                                          \
			cmd->member = (__typeof__(cmd->member))get(words, field); \
		}                                                                 \
	} while (0)
#define A(field, member)                                          \
	do {                                                      \
		known[(field).word] |= field_mask(field);         \
		if (encode) {                                     \
			if (!put_addr(words, field, cmd->member)) \
				return false;                     \
		} else {                                          \
			cmd->member = get_addr(words, field);     \
		}                                                 \
	} while (0)
	F(CMD_OP, opcode);
	switch (op) {
	case DMAP_SMMU_CMD_PREFETCH_CONFIG:
		F(CMD_SSV, ssv);
		F(CMD_SSID, ssid);
		F(CMD_SID, sid);
		break;
	case DMAP_SMMU_CMD_CFGI_STE:
		F(CMD_SID, sid);
		F(CMD_LEAF, leaf);
		break;
	case DMAP_SMMU_CMD_CFGI_CD:
		F(CMD_SSID, ssid);
		F(CMD_SID, sid);
		F(CMD_LEAF, leaf);
		break;
	case DMAP_SMMU_CMD_CFGI_CD_ALL:
		F(CMD_SID, sid);
		break;
	case DMAP_SMMU_CMD_CFGI_ALL:
		F(CMD_RANGE, range);
		break;
	case DMAP_SMMU_CMD_TLBI_NH_ASID:
		F(CMD_TLBI_VMID, vmid);
		F(CMD_TLBI_ASID, asid);
		break;
	case DMAP_SMMU_CMD_TLBI_NH_VA:
	case DMAP_SMMU_CMD_TLBI_NH_VAA:
		F(CMD_TLBI_NUM, num);
		F(CMD_TLBI_SCALE, scale);
		F(CMD_TLBI_VMID, vmid);
		if (op == DMAP_SMMU_CMD_TLBI_NH_VA)
			F(CMD_TLBI_ASID, asid);
		F(CMD_LEAF, leaf);
		F(CMD_TLBI_TTL, ttl);
		F(CMD_TLBI_TG, tg);
		A(CMD_TLBI_ADDR, addr);
		break;
	case DMAP_SMMU_CMD_TLBI_NH_ALL:
	case DMAP_SMMU_CMD_TLBI_S12_VMALL:
		F(CMD_TLBI_VMID, vmid);
		break;
	case DMAP_SMMU_CMD_TLBI_EL2_ALL:
	case DMAP_SMMU_CMD_TLBI_NSNH_ALL:
		break;
	case DMAP_SMMU_CMD_SYNC:
		F(CMD_SYNC_CS, cs);
		F(CMD_SYNC_MSH, msh);
		F(CMD_SYNC_MSIATTR, msiattr);
		F(CMD_SYNC_MSIDATA, msidata);
		A(CMD_SYNC_MSIADDR, msiaddr);
		break;
	default:
		return false;
	}
#undef F
#undef A
	return true;
}

int dmap_smmu_cmd_encode(const struct dmap_smmu_cmd *cmd, uint64_t out[DMAP_SMMU_CMD_DWORDS])
{
	struct dmap_smmu_cmd c;
	uint64_t known[2] = { 0, 0 };

	if (!out)
		return -DMAP_EINVAL;
	out[0] = out[1] = 0;
	if (!cmd)
		return -DMAP_EINVAL;
	c = *cmd;
	if (c.opcode == DMAP_SMMU_CMD_CFGI_ALL)
		c.range = 31; /* CFGI_STE_RANGE over every StreamID */
	if (c.opcode == DMAP_SMMU_CMD_SYNC && c.cs > DMAP_SMMU_SYNC_CS_SEV)
		return -DMAP_EINVAL;
	if (!cmd_fields(c.opcode, &c, out, true, known)) {
		out[0] = out[1] = 0;
		return -DMAP_EINVAL;
	}
	return 0;
}

int dmap_smmu_cmd_decode(const uint64_t in[DMAP_SMMU_CMD_DWORDS], struct dmap_smmu_cmd *cmd)
{
	uint64_t known[2] = { 0, 0 };
	uint64_t words[2];

	if (!in || !cmd)
		return -DMAP_EINVAL;
	dmap_memset(cmd, 0, sizeof(*cmd));
	words[0] = in[0];
	words[1] = in[1];
	if (!cmd_fields((uint8_t)(in[0] & 0xff), cmd, words, false, known))
		return -DMAP_EINVAL;
	if ((in[0] & ~known[0]) || (in[1] & ~known[1]))
		return -DMAP_EINVAL;
	return 0;
}

/* ---- event records (7.3) ------------------------------------------------ */

static const struct hw_field EVT_ID = { 0, 7, 0 };
static const struct hw_field EVT_SSV = { 0, 11, 11 };
static const struct hw_field EVT_SSID = { 0, 31, 12 };
static const struct hw_field EVT_SID = { 0, 63, 32 };
static const struct hw_field EVT_STAG = { 1, 15, 0 };
static const struct hw_field EVT_STALL = { 1, 31, 31 };
static const struct hw_field EVT_PNU = { 1, 33, 33 };
static const struct hw_field EVT_IND = { 1, 34, 34 };
static const struct hw_field EVT_RNW = { 1, 35, 35 };
static const struct hw_field EVT_S2 = { 1, 39, 39 };
static const struct hw_field EVT_CLASS = { 1, 41, 40 };
static const struct hw_field EVT_ADDR = { 2, 63, 0 };
static const struct hw_field EVT_IPA = { 3, 51, 12 };
static const struct hw_field EVT_FETCH = { 3, 51, 3 };

const char *dmap_smmu_event_name(uint8_t id)
{
	switch (id) {
	case DMAP_SMMU_EVT_F_UUT:
		return "F_UUT";
	case DMAP_SMMU_EVT_C_BAD_STREAMID:
		return "C_BAD_STREAMID";
	case DMAP_SMMU_EVT_F_STE_FETCH:
		return "F_STE_FETCH";
	case DMAP_SMMU_EVT_C_BAD_STE:
		return "C_BAD_STE";
	case DMAP_SMMU_EVT_F_BAD_ATS_TREQ:
		return "F_BAD_ATS_TREQ";
	case DMAP_SMMU_EVT_F_STREAM_DISABLED:
		return "F_STREAM_DISABLED";
	case DMAP_SMMU_EVT_F_TRANSL_FORBIDDEN:
		return "F_TRANSL_FORBIDDEN";
	case DMAP_SMMU_EVT_C_BAD_SUBSTREAMID:
		return "C_BAD_SUBSTREAMID";
	case DMAP_SMMU_EVT_F_CD_FETCH:
		return "F_CD_FETCH";
	case DMAP_SMMU_EVT_C_BAD_CD:
		return "C_BAD_CD";
	case DMAP_SMMU_EVT_F_WALK_EABT:
		return "F_WALK_EABT";
	case DMAP_SMMU_EVT_F_TRANSLATION:
		return "F_TRANSLATION";
	case DMAP_SMMU_EVT_F_ADDR_SIZE:
		return "F_ADDR_SIZE";
	case DMAP_SMMU_EVT_F_ACCESS:
		return "F_ACCESS";
	case DMAP_SMMU_EVT_F_PERMISSION:
		return "F_PERMISSION";
	case DMAP_SMMU_EVT_F_TLB_CONFLICT:
		return "F_TLB_CONFLICT";
	case DMAP_SMMU_EVT_F_CFG_CONFLICT:
		return "F_CFG_CONFLICT";
	case DMAP_SMMU_EVT_E_PAGE_REQUEST:
		return "E_PAGE_REQUEST";
	case DMAP_SMMU_EVT_F_VMS_FETCH:
		return "F_VMS_FETCH";
	}
	return "unknown";
}

/* Which optional parts an event type defines. */
#define EVT_HAS_TXN (1u << 0) /* word 1 transaction attributes + InputAddr */
#define EVT_HAS_IPA (1u << 1) /* word 3 IPA[51:12] */
#define EVT_HAS_FETCH (1u << 2) /* word 3 FetchAddr[51:3] */

static unsigned int event_parts(uint8_t id)
{
	switch (id) {
	case DMAP_SMMU_EVT_F_TRANSLATION:
	case DMAP_SMMU_EVT_F_ADDR_SIZE:
	case DMAP_SMMU_EVT_F_ACCESS:
	case DMAP_SMMU_EVT_F_PERMISSION:
		return EVT_HAS_TXN | EVT_HAS_IPA;
	case DMAP_SMMU_EVT_F_WALK_EABT:
		return EVT_HAS_TXN | EVT_HAS_FETCH;
	case DMAP_SMMU_EVT_F_STE_FETCH:
	case DMAP_SMMU_EVT_F_CD_FETCH:
	case DMAP_SMMU_EVT_F_VMS_FETCH:
		return EVT_HAS_FETCH;
	case DMAP_SMMU_EVT_F_UUT:
	case DMAP_SMMU_EVT_F_TRANSL_FORBIDDEN:
	case DMAP_SMMU_EVT_F_BAD_ATS_TREQ:
		return EVT_HAS_TXN;
	}
	return 0; /* C_BAD_*, F_STREAM_DISABLED ...: word 0 only */
}

int dmap_smmu_event_encode(const struct dmap_smmu_event *ev, uint64_t out[DMAP_SMMU_EVT_DWORDS])
{
	unsigned int parts;
	bool ok;

	if (!out)
		return -DMAP_EINVAL;
	dmap_memset(out, 0, DMAP_SMMU_EVT_DWORDS * sizeof(uint64_t));
	if (!ev)
		return -DMAP_EINVAL;
	parts = event_parts(ev->id);
	ok = put(out, EVT_ID, ev->id) && put(out, EVT_SID, ev->sid) && put(out, EVT_SSV, ev->ssv) &&
	     put(out, EVT_SSID, ev->ssv ? ev->ssid : 0);
	if (ok && (parts & EVT_HAS_TXN))
		ok = put(out, EVT_STAG, ev->stag) && put(out, EVT_STALL, ev->stall) &&
		     put(out, EVT_PNU, ev->pnu) && put(out, EVT_IND, ev->ind) &&
		     put(out, EVT_RNW, ev->rnw) && put(out, EVT_S2, ev->s2) &&
		     put(out, EVT_CLASS, ev->class_) && put(out, EVT_ADDR, ev->input_addr);
	if (ok && (parts & EVT_HAS_IPA))
		ok = put_addr(out, EVT_IPA, ev->ipa & ~(uint64_t)0xfff);
	if (ok && (parts & EVT_HAS_FETCH))
		ok = put_addr(out, EVT_FETCH, ev->fetch_addr);
	if (!ok) {
		dmap_memset(out, 0, DMAP_SMMU_EVT_DWORDS * sizeof(uint64_t));
		return -DMAP_EINVAL;
	}
	return 0;
}

int dmap_smmu_event_decode(const uint64_t in[DMAP_SMMU_EVT_DWORDS], struct dmap_smmu_event *ev)
{
	unsigned int parts;

	if (!in || !ev)
		return -DMAP_EINVAL;
	dmap_memset(ev, 0, sizeof(*ev));
	ev->id = (uint8_t)get(in, EVT_ID);
	ev->sid = (uint32_t)get(in, EVT_SID);
	ev->ssv = get(in, EVT_SSV);
	/* SubstreamID is defined only with SSV (as the encoder writes it). */
	ev->ssid = ev->ssv ? (uint32_t)get(in, EVT_SSID) : 0;
	parts = event_parts(ev->id);
	if (parts & EVT_HAS_TXN) {
		ev->stag = (uint16_t)get(in, EVT_STAG);
		ev->stall = get(in, EVT_STALL);
		ev->pnu = get(in, EVT_PNU);
		ev->ind = get(in, EVT_IND);
		ev->rnw = get(in, EVT_RNW);
		ev->s2 = get(in, EVT_S2);
		ev->class_ = (unsigned int)get(in, EVT_CLASS);
		ev->input_addr = get(in, EVT_ADDR);
	}
	if (parts & EVT_HAS_IPA)
		ev->ipa = get_addr(in, EVT_IPA);
	if (parts & EVT_HAS_FETCH)
		ev->fetch_addr = get_addr(in, EVT_FETCH);
	return 0;
}

uint8_t dmap_smmu_event_for_fault(enum dmap_fault_reason reason)
{
	switch (reason) {
	case DMAP_FAULT_TRANSLATION:
		return DMAP_SMMU_EVT_F_TRANSLATION;
	case DMAP_FAULT_ADDR_SIZE:
		return DMAP_SMMU_EVT_F_ADDR_SIZE;
	case DMAP_FAULT_ACCESS_FLAG:
		return DMAP_SMMU_EVT_F_ACCESS;
	case DMAP_FAULT_PERMISSION:
		return DMAP_SMMU_EVT_F_PERMISSION;
	case DMAP_FAULT_BAD_CONFIG:
		return DMAP_SMMU_EVT_C_BAD_CD;
	case DMAP_FAULT_NO_MEMORY:
	case DMAP_FAULT_NOT_ATTACHED:
		break;
	}
	return 0;
}
