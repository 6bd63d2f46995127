// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_hw_golden.c - hardware structures against values worked
 * out by hand from the specifications, both directions (encode and decode),
 * plus the argument checks.
 *
 * Arm: IHI 0070 (SMMUv3) 5.2 STE, 5.4 CD, 4.x commands, 7.3 event records.
 * Intel: VT-d spec 9.1 root entry, 9.3 context entry, 10.4.7 CCMD_REG,
 * 10.4.8 IOTLB_REG/IVA_REG, 6.5.2 invalidation descriptors, 10.4.14 fault
 * recording registers. Every expected word below is derived in its comment.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <dmap/dmap.h>
#include <dmap/iommu_hw.h>

#include "pgtable.h"
#include "test_env.h"

#define EXPECT_WORDS(got, ...)                                                                     \
	do {                                                                                       \
		const uint64_t exp_[] = { __VA_ARGS__ };                                           \
		for (size_t i_ = 0; i_ < sizeof(exp_) / sizeof(exp_[0]); i_++)                     \
			cr_assert_eq((got)[i_], exp_[i_],                                          \
				     "word %zu: 0x%016llx, expected 0x%016llx", i_,                \
				     (unsigned long long)(got)[i_], (unsigned long long)exp_[i_]); \
	} while (0)

Test(hw_golden, smmu_ste)
{
	struct dmap_smmu_ste ste, back;
	uint64_t w[8];

	memset(&ste, 0, sizeof(ste));
	/*
	 * 5.2: S1-translate STE for a linear single CD at 0x80001000.
	 * word 0 = V (1) | Config 0b101 << 1 (0xa) | S1ContextPtr 0x80001000 = 0x8000100b.
	 * word 1 = S1CIR WBRA 1 << 2 | S1COR 1 << 4 | S1CSH IS 3 << 6 (0xd4) | SHCFG incoming 1 << 44.
	 */
	ste.valid = true;
	ste.config = DMAP_SMMU_STE_CFG_S1_TRANS;
	ste.s1_context_ptr = 0x80001000;
	ste.s1cir = DMAP_SMMU_CACHE_WBRA;
	ste.s1cor = DMAP_SMMU_CACHE_WBRA;
	ste.s1csh = 3;
	ste.shcfg = DMAP_SMMU_STE_SHCFG_INCOMING;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), 0);
	EXPECT_WORDS(w, 0x000000008000100bull, 0x00001000000000d4ull, 0, 0, 0, 0, 0, 0);
	cr_assert_eq(dmap_smmu_ste_decode(w, &back), 0);
	cr_assert_eq(memcmp(&back, &ste, sizeof(ste)), 0);

	/* Bypass: V | 0b100 << 1 = 0x9. Abort: V | 0 = 0x1. */
	memset(&ste, 0, sizeof(ste));
	ste.valid = true;
	ste.config = DMAP_SMMU_STE_CFG_BYPASS;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), 0);
	EXPECT_WORDS(w, 0x9ull, 0, 0, 0);
	ste.config = DMAP_SMMU_STE_CFG_ABORT;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), 0);
	EXPECT_WORDS(w, 0x1ull, 0);
	/* S1CDMax 3 (8 CDs), S1Fmt linear, STRW EL2 (2 << 30), MEV (bit 19), S1STALLD (bit 27). */
	ste.config = DMAP_SMMU_STE_CFG_S1_TRANS;
	ste.s1_context_ptr = 0x1000;
	ste.s1_cdmax = 3;
	ste.strw = DMAP_SMMU_STE_STRW_EL2;
	ste.mev = true;
	ste.s1stalld = true;
	ste.s1dss = DMAP_SMMU_STE_S1DSS_SSID0;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), 0);
	EXPECT_WORDS(w, 0x180000000000100bull, 0x0000000088080002ull);

	/* Errors: unaligned CD pointer, pointer beyond 52 bits, reserved config, wide field. */
	ste.s1_context_ptr = 0x1020;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), -DMAP_EINVAL);
	EXPECT_WORDS(w, 0, 0, 0, 0, 0, 0, 0, 0);
	ste.s1_context_ptr = 1ull << 52;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), -DMAP_EINVAL);
	ste.s1_context_ptr = 0x1000;
	ste.config = 2;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), -DMAP_EINVAL);
	ste.config = DMAP_SMMU_STE_CFG_S2_TRANS;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), -DMAP_EINVAL);
	ste.config = DMAP_SMMU_STE_CFG_S1_TRANS;
	ste.s1_cdmax = 32;
	cr_assert_eq(dmap_smmu_ste_encode(&ste, w), -DMAP_EINVAL);
	cr_assert_eq(dmap_smmu_ste_encode(NULL, w), -DMAP_EINVAL);
	cr_assert_eq(dmap_smmu_ste_encode(&ste, NULL), -DMAP_EINVAL);
	/* Decode: stray bits (a stage-2 VTCR in word 2) are reported. */
	memset(w, 0, sizeof(w));
	w[0] = 0x9;
	w[2] = 1ull << 40;
	cr_assert_eq(dmap_smmu_ste_decode(w, &back), -DMAP_EINVAL);
	cr_assert(back.valid);
	cr_assert_eq(back.config, DMAP_SMMU_STE_CFG_BYPASS);
}

Test(hw_golden, smmu_cd)
{
	struct dmap_smmu_cd cd, back;
	uint64_t w[8];

	/*
	 * 5.4: the CD Linux builds for a 4K/48-bit coherent table, ASID 0x1234:
	 * word 0 = T0SZ 16 (0x10) | IR0 1 << 8 | OR0 1 << 10 | SH0 3 << 12  (0x3510)
	 *        | EPD1 1 << 30 | V 1 << 31                                   (0xc0000000)
	 *        | IPS 0b101 << 32 | AA64 1 << 41 | R 1 << 45 | A 1 << 46 | ASET 1 << 47
	 *        | ASID 0x1234 << 48  = 0x1234e205c0003510
	 * word 1 = TTB0 0x40002000; word 3 = MAIR 0xf404ff44.
	 */
	cr_assert_eq(dmap_smmu_cd_from_tcr(&cd, 0x0000000500003510ull, 0x40002000,
					   DMAP_ARM_MAIR_VALUE, 0x1234),
		     0);
	cr_assert_eq(dmap_smmu_cd_encode(&cd, w), 0);
	EXPECT_WORDS(w, 0x1234e205c0003510ull, 0x40002000ull, 0, 0xf404ff44ull, 0, 0, 0, 0);
	cr_assert_eq(dmap_smmu_cd_decode(w, &back), 0);
	cr_assert_eq(memcmp(&back, &cd, sizeof(cd)), 0);
	cr_assert_eq(back.t0sz, 16);
	cr_assert_eq(dmap_arm_ips_bits(back.ips), 48);

	/*
	 * 64K granule (TG0 0b01 << 6 = 0x40), AFFD (35), WXN (36), TBI0 (38), HA (43), HD (42),
	 * EPD0 (14), ENDI (15).
	 */
	memset(&cd, 0, sizeof(cd));
	cd.valid = true;
	cd.tg0 = DMAP_ARM_TCR_TG0_64K;
	cd.t0sz = 22;
	cd.affd = cd.wxn = cd.tbi0 = cd.ha = cd.hd = cd.epd0 = cd.endi = true;
	cd.ttb0 = 0xfffffffffff0ull;
	cr_assert_eq(dmap_smmu_cd_encode(&cd, w), 0);
	/*
	 * 22 (0x16) | 0x40 | 0x4000 | 0x8000 | 0x80000000 | bits 35,36,38,42,43 =
	 * 0x0000_0c58_8000_c056
	 */
	EXPECT_WORDS(w, 0x00000c5880000000ull | 0xc056ull, 0xfffffffffff0ull);

	/* Errors: TTB0 not 16-byte aligned, TG0 reserved, IPS 7, wide T0SZ. */
	cd.ttb0 = 0x1008;
	cr_assert_eq(dmap_smmu_cd_encode(&cd, w), -DMAP_EINVAL);
	cd.ttb0 = 0x1000;
	cd.tg0 = 3;
	cr_assert_eq(dmap_smmu_cd_encode(&cd, w), -DMAP_EINVAL);
	cd.tg0 = 0;
	cd.ips = 7;
	cr_assert_eq(dmap_smmu_cd_encode(&cd, w), -DMAP_EINVAL);
	cd.ips = 0;
	cd.t0sz = 64;
	cr_assert_eq(dmap_smmu_cd_encode(&cd, w), -DMAP_EINVAL);
	cr_assert_eq(dmap_smmu_cd_from_tcr(NULL, 0, 0, 0, 0), -DMAP_EINVAL);
	/* Decode: TTB1 (word 2) is not modelled -> reported. */
	memset(w, 0, sizeof(w));
	w[2] = 0x1000;
	cr_assert_eq(dmap_smmu_cd_decode(w, &back), -DMAP_EINVAL);
	cr_assert_eq(dmap_arm_ips_encode(44), 4);
	cr_assert_eq(dmap_arm_ips_encode(41), -DMAP_EINVAL);
	cr_assert_eq(dmap_arm_ips_bits(7), 0);
}

static void check_cmd(const struct dmap_smmu_cmd *cmd, uint64_t w0, uint64_t w1)
{
	uint64_t w[2];
	struct dmap_smmu_cmd back;

	cr_assert_eq(dmap_smmu_cmd_encode(cmd, w), 0, "%s", dmap_smmu_cmd_name(cmd->opcode));
	cr_assert_eq(w[0], w0, "%s word 0: 0x%016llx", dmap_smmu_cmd_name(cmd->opcode),
		     (unsigned long long)w[0]);
	cr_assert_eq(w[1], w1, "%s word 1: 0x%016llx", dmap_smmu_cmd_name(cmd->opcode),
		     (unsigned long long)w[1]);
	cr_assert_eq(dmap_smmu_cmd_decode(w, &back), 0);
	cr_assert_eq(back.opcode, cmd->opcode);
	cr_assert_eq(dmap_smmu_cmd_encode(&back, w), 0);
	cr_assert_eq(w[0], w0);
	cr_assert_eq(w[1], w1);
}

Test(hw_golden, smmu_commands)
{
	struct dmap_smmu_cmd c;

	/* 4.3 CMD_CFGI_STE: opcode 0x03, SID [63:32], Leaf word 1 bit 0. */
	memset(&c, 0, sizeof(c));
	c.opcode = DMAP_SMMU_CMD_CFGI_STE;
	c.sid = 0x42;
	c.leaf = true;
	check_cmd(&c, 0x0000004200000003ull, 1);
	/* 4.3 CMD_CFGI_CD: opcode 0x05, SSID [31:12] (7 << 12), SID. */
	c.opcode = DMAP_SMMU_CMD_CFGI_CD;
	c.ssid = 7;
	check_cmd(&c, 0x0000004200007005ull, 1);
	/* 4.3 CMD_CFGI_ALL = CFGI_STE_RANGE (0x04) with Range 31 in word 1 [4:0]. */
	memset(&c, 0, sizeof(c));
	c.opcode = DMAP_SMMU_CMD_CFGI_ALL;
	check_cmd(&c, 0x04, 0x1f);
	/* 4.4.2 (stage-1 TLBI) CMD_TLBI_NH_ASID: opcode 0x11, ASID [63:48]. */
	memset(&c, 0, sizeof(c));
	c.opcode = DMAP_SMMU_CMD_TLBI_NH_ASID;
	c.asid = 0x1234;
	check_cmd(&c, 0x1234000000000011ull, 0);
	/* 4.4.2 CMD_TLBI_NH_VA: opcode 0x12, ASID, word 1: Address [63:12] | Leaf. */
	c.opcode = DMAP_SMMU_CMD_TLBI_NH_VA;
	c.addr = 0x7fff12345000ull;
	c.leaf = true;
	check_cmd(&c, 0x1234000000000012ull, 0x00007fff12345001ull);
	/*
	 * Range form (4.4.1.1): NUM 3 << 12, SCALE 1 << 20; TTL [73:72] = word 1
	 * 3 << 8, TG [75:74] = word 1 0b01 (4K) << 10.
	 */
	c.num = 3;
	c.scale = 1;
	c.ttl = 3;
	c.tg = 1;
	check_cmd(&c, 0x1234000000103012ull, 0x00007fff12345701ull);
	/* 4.4 CMD_TLBI_NSNH_ALL: just the opcode 0x30. */
	memset(&c, 0, sizeof(c));
	c.opcode = DMAP_SMMU_CMD_TLBI_NSNH_ALL;
	check_cmd(&c, 0x30, 0);
	/* 4.7 CMD_SYNC: opcode 0x46, CS SEV (0b10 << 12) = 0x2046. */
	memset(&c, 0, sizeof(c));
	c.opcode = DMAP_SMMU_CMD_SYNC;
	c.cs = DMAP_SMMU_SYNC_CS_SEV;
	check_cmd(&c, 0x2046, 0);
	/*
	 * CS IRQ (1 << 12), MSH IS (3 << 22), MSIAttr 0xf << 24, MSIData [63:32]; MSIAddr [51:2].
	 */
	c.cs = DMAP_SMMU_SYNC_CS_IRQ;
	c.msh = 3;
	c.msiattr = 0xf;
	c.msidata = 0xdeadbeef;
	c.msiaddr = 0x12345678;
	check_cmd(&c, 0xdeadbeef0fc01046ull, 0x12345678);

	/*
	 * Errors: unknown opcode, CS 3, unaligned MSI address, SID is 32 bits, address not page
	 * aligned.
	 */
	c.msiaddr = 0x12345679;
	cr_assert_eq(dmap_smmu_cmd_encode(&c, (uint64_t[2]){ 0 }), -DMAP_EINVAL);
	c.msiaddr = 0;
	c.cs = 3;
	cr_assert_eq(dmap_smmu_cmd_encode(&c, (uint64_t[2]){ 0 }), -DMAP_EINVAL);
	memset(&c, 0, sizeof(c));
	c.opcode = 0x7f;
	cr_assert_eq(dmap_smmu_cmd_encode(&c, (uint64_t[2]){ 0 }), -DMAP_EINVAL);
	c.opcode = DMAP_SMMU_CMD_TLBI_NH_VA;
	c.addr = 0x1234;
	cr_assert_eq(dmap_smmu_cmd_encode(&c, (uint64_t[2]){ 0 }), -DMAP_EINVAL);
	c.opcode = DMAP_SMMU_CMD_CFGI_CD;
	c.addr = 0;
	c.ssid = 1u << 20;
	cr_assert_eq(dmap_smmu_cmd_encode(&c, (uint64_t[2]){ 0 }), -DMAP_EINVAL);
	{
		/* Decode: stray bit 40 in a CMD_SYNC's word 1 beyond MSIAddr? bit 60 is RES0. */
		uint64_t w[2] = { 0x46, 1ull << 60 };
		struct dmap_smmu_cmd back;

		cr_assert_eq(dmap_smmu_cmd_decode(w, &back), -DMAP_EINVAL);
		w[0] = 0x99;
		w[1] = 0;
		cr_assert_eq(dmap_smmu_cmd_decode(w, &back), -DMAP_EINVAL);
	}
	cr_assert_str_eq(dmap_smmu_cmd_name(DMAP_SMMU_CMD_SYNC), "CMD_SYNC");
	cr_assert_str_eq(dmap_smmu_cmd_name(0x99), "unknown");
}

Test(hw_golden, smmu_events)
{
	struct dmap_smmu_event ev, back;
	uint64_t w[4];

	memset(&ev, 0, sizeof(ev));
	/*
	 * 7.3 F_TRANSLATION (0x10), StreamID 0x42 (word 0 [63:32]), data read
	 * by an unprivileged stream: RnW bit 35, CLASS IN (0b10 << 40); InputAddr
	 * word 2; stage 1 so IPA stays 0.
	 */
	ev.id = DMAP_SMMU_EVT_F_TRANSLATION;
	ev.sid = 0x42;
	ev.rnw = true;
	ev.class_ = DMAP_SMMU_EVT_CLASS_IN;
	ev.input_addr = 0xdead0000;
	cr_assert_eq(dmap_smmu_event_encode(&ev, w), 0);
	EXPECT_WORDS(w, 0x0000004200000010ull, 0x0000020800000000ull, 0xdead0000ull, 0);
	cr_assert_eq(dmap_smmu_event_decode(w, &back), 0);
	cr_assert_eq(memcmp(&back, &ev, sizeof(ev)), 0);

	/*
	 * 7.3 F_PERMISSION (0x13), SSV (bit 11), SubstreamID 5 [31:12], privileged write: PnU
	 * bit 33.
	 */
	memset(&ev, 0, sizeof(ev));
	ev.id = DMAP_SMMU_EVT_F_PERMISSION;
	ev.sid = 7;
	ev.ssv = true;
	ev.ssid = 5;
	ev.pnu = true;
	ev.class_ = DMAP_SMMU_EVT_CLASS_IN;
	ev.input_addr = 0xffff800000001000ull;
	cr_assert_eq(dmap_smmu_event_encode(&ev, w), 0);
	EXPECT_WORDS(w, 0x0000000700005813ull, 0x0000020200000000ull, 0xffff800000001000ull, 0);

	/* 7.3 C_BAD_STE (0x04): word 0 only, transaction fields are not written. */
	memset(&ev, 0, sizeof(ev));
	ev.id = DMAP_SMMU_EVT_C_BAD_STE;
	ev.sid = 0x99;
	ev.rnw = true;
	ev.input_addr = 0x1234;
	cr_assert_eq(dmap_smmu_event_encode(&ev, w), 0);
	EXPECT_WORDS(w, 0x0000009900000004ull, 0, 0, 0);

	/* 7.3 F_WALK_EABT (0x0b): FetchAddr [51:3] in word 3, CLASS TT (1 << 40). */
	memset(&ev, 0, sizeof(ev));
	ev.id = DMAP_SMMU_EVT_F_WALK_EABT;
	ev.sid = 1;
	ev.class_ = DMAP_SMMU_EVT_CLASS_TT;
	ev.fetch_addr = 0x40001008;
	cr_assert_eq(dmap_smmu_event_encode(&ev, w), 0);
	EXPECT_WORDS(w, 0x000000010000000bull, 0x0000010000000000ull, 0, 0x40001008ull);
	cr_assert_eq(dmap_smmu_event_decode(w, &back), 0);
	cr_assert_eq(back.fetch_addr, 0x40001008ull);
	ev.fetch_addr = 0x40001004;
	cr_assert_eq(dmap_smmu_event_encode(&ev, w), -DMAP_EINVAL);
	ev.class_ = 4;
	cr_assert_eq(dmap_smmu_event_encode(&ev, w), -DMAP_EINVAL);
	cr_assert_eq(dmap_smmu_event_encode(NULL, w), -DMAP_EINVAL);
	cr_assert_eq(dmap_smmu_event_decode(NULL, &back), -DMAP_EINVAL);

	cr_assert_str_eq(dmap_smmu_event_name(0x10), "F_TRANSLATION");
	cr_assert_str_eq(dmap_smmu_event_name(0x0a), "C_BAD_CD");
	cr_assert_str_eq(dmap_smmu_event_name(0xee), "unknown");
	cr_assert_eq(dmap_smmu_event_for_fault(DMAP_FAULT_TRANSLATION), 0x10);
	cr_assert_eq(dmap_smmu_event_for_fault(DMAP_FAULT_ADDR_SIZE), 0x11);
	cr_assert_eq(dmap_smmu_event_for_fault(DMAP_FAULT_ACCESS_FLAG), 0x12);
	cr_assert_eq(dmap_smmu_event_for_fault(DMAP_FAULT_PERMISSION), 0x13);
	cr_assert_eq(dmap_smmu_event_for_fault(DMAP_FAULT_NOT_ATTACHED), 0);
}

Test(hw_golden, vtd_root_and_context)
{
	struct dmap_vtd_root_entry re = { .present = true, .ctp = 0x12345000 }, reb;
	struct dmap_vtd_context_entry ce, ceb;
	uint64_t w[2];

	memset(&ce, 0, sizeof(ce));
	/* 9.1: P bit 0, CTP [63:12]. */
	cr_assert_eq(dmap_vtd_root_entry_encode(&re, w), 0);
	EXPECT_WORDS(w, 0x12345001ull, 0);
	cr_assert_eq(dmap_vtd_root_entry_decode(w, &reb), 0);
	cr_assert(reb.present);
	cr_assert_eq(reb.ctp, 0x12345000);
	re.ctp = 0x12345800;
	cr_assert_eq(dmap_vtd_root_entry_encode(&re, w), -DMAP_EINVAL);
	w[0] = 0x12345001 | (1ull << 4);
	cr_assert_eq(dmap_vtd_root_entry_decode(w, &reb), -DMAP_EINVAL, "reserved bit 4");

	/* 9.3: lo = P | TT 00 << 2 | SLPTPTR; hi = AW 2 (48-bit) | DID 0x1234 << 8. */
	ce.present = true;
	ce.tt = DMAP_VTD_CONTEXT_TT_MULTI_LEVEL;
	ce.slptptr = 0xabcde000;
	ce.aw = 2;
	ce.did = 0x1234;
	cr_assert_eq(dmap_vtd_context_entry_encode(&ce, w), 0);
	EXPECT_WORDS(w, 0xabcde001ull, 0x123402ull);
	cr_assert_eq(dmap_vtd_context_entry_decode(w, &ceb), 0);
	cr_assert_eq(memcmp(&ce, &ceb, sizeof(ce)), 0);
	/* Pass-through (TT 0b10 << 2 = 0x8) with fault processing disabled (bit 1). */
	ce.tt = DMAP_VTD_CONTEXT_TT_PASS_THROUGH;
	ce.fpd = true;
	cr_assert_eq(dmap_vtd_context_entry_encode(&ce, w), 0);
	EXPECT_WORDS(w, 0xabcde00bull, 0x123402ull);
	ce.tt = 3;
	cr_assert_eq(dmap_vtd_context_entry_encode(&ce, w), -DMAP_EINVAL);
	ce.tt = 0;
	ce.aw = 4;
	cr_assert_eq(dmap_vtd_context_entry_encode(&ce, w), -DMAP_EINVAL);
	ce.aw = 0;
	cr_assert_eq(dmap_vtd_context_entry_encode(&ce, w), -DMAP_EINVAL);
	w[0] = 0xabcde001;
	w[1] = 0x123402 | (1ull << 7);
	cr_assert_eq(dmap_vtd_context_entry_decode(w, &ceb), -DMAP_EINVAL, "reserved hi bit 7");
}

Test(hw_golden, vtd_register_invalidation)
{
	struct dmap_vtd_ccmd cc, ccb;
	struct dmap_vtd_iotlb_cmd it, itb;
	uint64_t v, iva;

	memset(&cc, 0, sizeof(cc));
	memset(&it, 0, sizeof(it));
	/* 10.4.7 CCMD_REG: ICC bit 63 | CIRG global 01 << 61 = 0xa000000000000000. */
	cc.icc = true;
	cc.cirg = DMAP_VTD_INV_GLOBAL;
	cr_assert_eq(dmap_vtd_ccmd_encode(&cc, &v), 0);
	cr_assert_eq(v, 0xa000000000000000ull);
	/* Domain-selective, DID 5: 0x8000... | 10 << 61 | 5. */
	cc.cirg = DMAP_VTD_INV_DOMAIN;
	cc.did = 5;
	cr_assert_eq(dmap_vtd_ccmd_encode(&cc, &v), 0);
	cr_assert_eq(v, 0xc000000000000005ull);
	/* Device-selective, SID 0x0100 << 16, FM 0. */
	cc.cirg = DMAP_VTD_INV_DEVICE;
	cc.sid = 0x0100;
	cr_assert_eq(dmap_vtd_ccmd_encode(&cc, &v), 0);
	cr_assert_eq(v, 0xe000000001000005ull);
	cr_assert_eq(dmap_vtd_ccmd_decode(v, &ccb), 0);
	cr_assert_eq(memcmp(&cc, &ccb, sizeof(cc)), 0);
	cc.cirg = 0;
	cr_assert_eq(dmap_vtd_ccmd_encode(&cc, &v), -DMAP_EINVAL, "CIRG 0 is reserved");
	cc.cirg = 1;
	cc.fm = 4;
	cr_assert_eq(dmap_vtd_ccmd_encode(&cc, &v), -DMAP_EINVAL);

	/* 10.4.8.1 IOTLB_REG: IVT bit 63 | IIRG global 01 << 60 | DR bit 49 | DW bit 48. */
	it.ivt = true;
	it.iirg = DMAP_VTD_INV_GLOBAL;
	it.dr = it.dw = true;
	cr_assert_eq(dmap_vtd_iotlb_cmd_encode(&it, &v, &iva), 0);
	cr_assert_eq(v, 0x9003000000000000ull);
	cr_assert_eq(iva, 0);
	/* Domain-selective DID 5 ([47:32]): 0xa000000500000000. */
	it.dr = it.dw = false;
	it.iirg = DMAP_VTD_INV_DOMAIN;
	it.did = 5;
	cr_assert_eq(dmap_vtd_iotlb_cmd_encode(&it, &v, &iva), 0);
	cr_assert_eq(v, 0xa000000500000000ull);
	/* Page-selective: IIRG 11; IVA_REG = ADDR | IH (bit 6) | AM 0. */
	it.iirg = DMAP_VTD_INV_PAGE;
	it.addr = 0x12345000;
	it.ih = true;
	cr_assert_eq(dmap_vtd_iotlb_cmd_encode(&it, &v, &iva), 0);
	cr_assert_eq(v, 0xb000000500000000ull);
	cr_assert_eq(iva, 0x12345040ull);
	cr_assert_eq(dmap_vtd_iotlb_cmd_decode(v, iva, &itb), 0);
	cr_assert_eq(memcmp(&it, &itb, sizeof(it)), 0);
	/* AM 9 (2 MiB) needs a 2 MiB-aligned address. */
	it.am = 9;
	cr_assert_eq(dmap_vtd_iotlb_cmd_encode(&it, &v, &iva), -DMAP_EINVAL);
	it.addr = 0x40000000;
	cr_assert_eq(dmap_vtd_iotlb_cmd_encode(&it, &v, &iva), 0);
	cr_assert_eq(iva, 0x40000049ull);
}

Test(hw_golden, vtd_queued_invalidation)
{
	struct dmap_vtd_inv_desc d, back;
	uint64_t w[2];

	/* 6.5.2.1 context-cache invalidate: type 1, G global 01 << 4 = 0x11. */
	memset(&d, 0, sizeof(d));
	d.type = DMAP_VTD_QI_CC;
	d.granularity = DMAP_VTD_INV_GLOBAL;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), 0);
	EXPECT_WORDS(w, 0x11ull, 0);
	/* Device-selective: G 11 << 4, DID 5 << 16, SID 0x0100 << 32, FM 0. */
	d.granularity = DMAP_VTD_INV_DEVICE;
	d.did = 5;
	d.sid = 0x0100;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), 0);
	EXPECT_WORDS(w, 0x0000010000050031ull, 0);
	cr_assert_eq(dmap_vtd_inv_desc_decode(w, &back), 0);
	cr_assert_eq(memcmp(&d, &back, sizeof(d)), 0);

	/*
	 * 6.5.2.3 IOTLB invalidate, page-selective (G 11 << 4), DW bit 6, DR bit 7,
	 * DID 5 << 16: lo 0x500f2; hi = ADDR 0x7f000000 | IH 0 | AM 9 (2 MiB).
	 */
	memset(&d, 0, sizeof(d));
	d.type = DMAP_VTD_QI_IOTLB;
	d.granularity = DMAP_VTD_INV_PAGE;
	d.dr = d.dw = true;
	d.did = 5;
	d.addr = 0x7f000000;
	d.am = 9;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), 0);
	EXPECT_WORDS(w, 0x500f2ull, 0x7f000009ull);
	cr_assert_eq(dmap_vtd_inv_desc_decode(w, &back), 0);
	cr_assert_eq(memcmp(&d, &back, sizeof(d)), 0);
	d.addr = 0x7f001000;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), -DMAP_EINVAL, "address not aligned to AM");
	/* Global IOTLB: type 2 | G 01 << 4 = 0x12, address ignored. */
	memset(&d, 0, sizeof(d));
	d.type = DMAP_VTD_QI_IOTLB;
	d.granularity = DMAP_VTD_INV_GLOBAL;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), 0);
	EXPECT_WORDS(w, 0x12ull, 0);

	/*
	 * 6.5.2.8 invalidation wait: type 5 | SW bit 5 | FN bit 6 | status data 1 << 32; hi status
	 * address.
	 */
	memset(&d, 0, sizeof(d));
	d.type = DMAP_VTD_QI_WAIT;
	d.sw = d.fn = true;
	d.status_data = 1;
	d.status_addr = 0x1000;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), 0);
	EXPECT_WORDS(w, 0x0000000100000065ull, 0x1000ull);
	cr_assert_eq(dmap_vtd_inv_desc_decode(w, &back), 0);
	cr_assert_eq(memcmp(&d, &back, sizeof(d)), 0);
	/* Interrupt flag only: 0x15. */
	memset(&d, 0, sizeof(d));
	d.type = DMAP_VTD_QI_WAIT;
	d.iflag = true;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), 0);
	EXPECT_WORDS(w, 0x15ull, 0);
	/* Status address must be 4-byte aligned; unknown type; reserved bits on decode. */
	d.sw = true;
	d.status_addr = 0x1002;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), -DMAP_EINVAL);
	d.type = 0xe;
	cr_assert_eq(dmap_vtd_inv_desc_encode(&d, w), -DMAP_EINVAL);
	w[0] = 0x11 | (1ull << 60);
	w[1] = 0;
	cr_assert_eq(dmap_vtd_inv_desc_decode(w, &back), -DMAP_EINVAL);
}

Test(hw_golden, vtd_fault_record)
{
	struct dmap_vtd_fault_record f, back;
	uint64_t w[2];

	memset(&f, 0, sizeof(f));
	/*
	 * 10.4.14: a read (T bit 126 = hi 62) of 0xdead5000 by source 01:00.0
	 * (SID 0x0100: bus 1, device 0, function 0) that found the PTE without
	 * R: reason 6 at hi [39:32], F at hi 63.
	 * lo = 0xdead5000; hi = 0x0100 | 6 << 32 | 1 << 62 | 1 << 63.
	 */
	f.fault_info = 0xdead5000;
	f.sid = 0x0100;
	f.reason = DMAP_VTD_FR_READ;
	f.type = 1;
	f.fault = true;
	cr_assert_eq(dmap_vtd_fault_record_encode(&f, w), 0);
	EXPECT_WORDS(w, 0xdead5000ull, 0xc000000600000100ull);
	cr_assert_eq(dmap_vtd_fault_record_decode(w, &back), 0);
	cr_assert_eq(memcmp(&f, &back, sizeof(f)), 0);
	/*
	 * A privileged (bit 93 = hi 29) execute (hi 30) write with PASID 0x12345
	 * (PP hi 31, PV hi [59:40]), reason 5:
	 * hi = 0x0100 | 0xe0000000 | 5 << 32 | 0x12345 << 40 | F = 0x81234505e0000100.
	 */
	memset(&f, 0, sizeof(f));
	f.fault_info = 0xdead5000;
	f.sid = 0x0100;
	f.reason = DMAP_VTD_FR_WRITE;
	f.priv = f.exe = f.pasid_present = f.fault = true;
	f.pasid = 0x12345;
	cr_assert_eq(dmap_vtd_fault_record_encode(&f, w), 0);
	EXPECT_WORDS(w, 0xdead5000ull, 0x81234505e0000100ull);
	cr_assert_eq(dmap_vtd_fault_record_decode(w, &back), 0);
	cr_assert_eq(back.pasid, 0x12345);
	f.pasid = 1u << 20;
	cr_assert_eq(dmap_vtd_fault_record_encode(&f, w), -DMAP_EINVAL, "PASID is 20 bits");
	w[0] = 0xdead5001;
	w[1] = 0;
	cr_assert_eq(dmap_vtd_fault_record_decode(w, &back), -DMAP_EINVAL, "lo [11:0] reserved");

	cr_assert_str_eq(dmap_vtd_fault_reason_name(5), "PTE Write access is not set");
	cr_assert_str_eq(dmap_vtd_fault_reason_name(0x40), "Unknown");
	cr_assert_eq(dmap_vtd_fault_reason_for(DMAP_FAULT_TRANSLATION, DMAP_ACCESS_WRITE), 5);
	cr_assert_eq(dmap_vtd_fault_reason_for(DMAP_FAULT_PERMISSION, DMAP_ACCESS_READ), 6);
	cr_assert_eq(dmap_vtd_fault_reason_for(DMAP_FAULT_ADDR_SIZE, DMAP_ACCESS_READ), 4);
	cr_assert_eq(dmap_vtd_fault_reason_for(DMAP_FAULT_NOT_ATTACHED, DMAP_ACCESS_READ), 2);
}

Test(hw_golden, le64_helpers)
{
	unsigned char b[8];

	dmap_hw_put_le64(b, 0x0807060504030201ull);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(b[i], i + 1);
	cr_assert_eq(dmap_hw_get_le64(b), 0x0807060504030201ull);
}

/*
 * From a page table to the structures that point at it: the CD built from
 * an ARM table's out.arm (TCR fields, TTB0 = root, MAIR), and the VT-d
 * context entry from out.vtd (SLPTPTR = root, AW = agaw). (Also links the
 * test environment, whose rand_r() lets Criterion start under TSan.)
 */
Test(hw_golden, structures_from_pgtables)
{
	struct dmap_test_env t;
	struct dmap_pgtable_config cfg;
	struct dmap_pgtable *pt;
	struct dmap_smmu_cd cd;
	struct dmap_vtd_context_entry ce;
	uint64_t w[8];

	dmap_test_env_init(&t, 0x10000000, 1 << 20, false);
	memset(&cfg, 0, sizeof(cfg));
	cfg.format = DMAP_PGTABLE_ARM_LPAE_S1;
	cfg.pgsize_bitmap = 0x1000 | 0x200000 | 0x40000000;
	cfg.ias = 48;
	cfg.oas = 48;
	cfg.coherent_walk = true;
	cfg.env = t.env;
	pt = dmap_pgtable_alloc(&cfg);
	cr_assert_not_null(pt);
	cr_assert_eq(
		dmap_smmu_cd_from_tcr(&cd, cfg.out.arm.tcr, cfg.out.arm.ttbr, cfg.out.arm.mair, 1),
		0);
	cr_assert_eq(dmap_smmu_cd_encode(&cd, w), 0);
	cr_assert_eq(w[0], 0x0001e205c0003510ull, "cd word 0: 0x%016llx", (unsigned long long)w[0]);
	cr_assert_eq(w[1], cfg.out.arm.ttbr);
	cr_assert_eq(w[3], 0xf404ff44ull);
	dmap_pgtable_free(pt);

	memset(&cfg, 0, sizeof(cfg));
	cfg.format = DMAP_PGTABLE_VTD_SL;
	cfg.pgsize_bitmap = 0x1000;
	cfg.ias = 39;
	cfg.oas = 39;
	cfg.coherent_walk = true;
	cfg.env = t.env;
	pt = dmap_pgtable_alloc(&cfg);
	cr_assert_not_null(pt);
	memset(&ce, 0, sizeof(ce));
	ce.present = true;
	ce.slptptr = cfg.out.vtd.root;
	ce.aw = cfg.out.vtd.agaw;
	ce.did = 1;
	cr_assert_eq(dmap_vtd_context_entry_encode(&ce, w), 0);
	cr_assert_eq(w[0], cfg.out.vtd.root | 1);
	cr_assert_eq(w[1], 0x101ull, "AW 1 (39-bit) | DID 1 << 8");
	dmap_pgtable_free(pt);
	dmap_test_env_fini(&t);
}
