/* SPDX-License-Identifier: MIT */
/*
 * dmap/iommu_hw.h - the hardware side of the iommu backend: page-table
 * format identifiers and protection bits, and encoders/decoders for the
 * in-memory structures an SMMUv3 or an Intel VT-d unit reads and writes
 * (stream table entries, context descriptors, commands, event records; root
 * and context entries, invalidation descriptors, fault records).
 *
 * Everything is plain integer arithmetic on 64-bit words, so a bare-metal
 * frontend can program a real unit with it and tests can check it against
 * values worked out by hand from the specifications. docs/iommu-formats.md
 * lists every field with the spec section it comes from.
 *
 * Byte order: structures are arrays of 64-bit words in the unit's order
 * (word 0 first). Both units read memory little-endian; on a big-endian CPU
 * store each word with dmap_hw_put_le64().
 *
 * Freestanding: <stdint.h>, <stddef.h>, <stdbool.h> through dmap/types.h.
 */
#ifndef DMAP_IOMMU_HW_H
#define DMAP_IOMMU_HW_H

#include <dmap/types.h>
#include <dmap/fault.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum dmap_pgtable_format - the page-table layouts the iommu backend writes.
 * @DMAP_PGTABLE_ARM_LPAE_S1: Arm VMSAv8-64 stage 1 as SMMUv3 walks it (Linux ARM_64_LPAE_S1).
 * @DMAP_PGTABLE_VTD_SL: Intel VT-d legacy second-level tables (Linux intel/iommu.c dma_pte).
 */
enum dmap_pgtable_format {
	DMAP_PGTABLE_ARM_LPAE_S1 = 1,
	DMAP_PGTABLE_VTD_SL = 2,
};

/*
 * Protection bits of a mapping (Linux IOMMU_READ, IOMMU_WRITE, ... but dmap's
 * own values). At least one of READ/WRITE is required.
 */
#define DMAP_PROT_READ (1u << 0)
#define DMAP_PROT_WRITE (1u << 1)
/* Cacheable (MAIR index 1, inner shareable); VT-d: set SNP (snoop) only because of this bit. */
#define DMAP_PROT_CACHE (1u << 2)
#define DMAP_PROT_NOEXEC (1u << 3) /* ARM: UXN|PXN; VT-d second level has no execute control */
#define DMAP_PROT_PRIV (1u << 4) /* ARM: privileged accesses only (AP[1] clear) */
#define DMAP_PROT_MMIO (1u << 5) /* ARM: Device-nGnRE (MAIR index 2) */
#define DMAP_PROT_ALL                                                                             \
	(DMAP_PROT_READ | DMAP_PROT_WRITE | DMAP_PROT_CACHE | DMAP_PROT_NOEXEC | DMAP_PROT_PRIV | \
	 DMAP_PROT_MMIO)

/** dmap_hw_put_le64() - store @v little-endian at @p (any alignment, any host byte order). */
static inline void dmap_hw_put_le64(void *p, uint64_t v)
{
	uint8_t *b = (uint8_t *)p;

	for (unsigned int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/** dmap_hw_get_le64() - load a little-endian 64-bit value from @p. */
static inline uint64_t dmap_hw_get_le64(const void *p)
{
	const uint8_t *b = (const uint8_t *)p;
	uint64_t v = 0;

	for (unsigned int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* ======================================================================
 * Arm VMSAv8-64 stage-1 descriptors (Arm ARM D8.3 "Translation table
 * descriptor formats"; as SMMUv3 walks them, IHI 0070 3.x / 5.4).
 * ====================================================================== */
#define DMAP_ARM_PTE_VALID (1ull << 0)
#define DMAP_ARM_PTE_TYPE_MASK 3ull
#define DMAP_ARM_PTE_TYPE_BLOCK 1ull /* levels 0..2 */
#define DMAP_ARM_PTE_TYPE_TABLE 3ull /* levels 0..2 */
#define DMAP_ARM_PTE_TYPE_PAGE 3ull /* level 3 */
#define DMAP_ARM_PTE_ATTRINDX_SHIFT 2 /* bits [4:2]: MAIR index */
#define DMAP_ARM_PTE_ATTRINDX_MASK (7ull << 2)
#define DMAP_ARM_PTE_NS (1ull << 5)
#define DMAP_ARM_PTE_AP_UNPRIV (1ull << 6) /* AP[1]: EL0 (unprivileged) access */
#define DMAP_ARM_PTE_AP_RDONLY (1ull << 7) /* AP[2]: read-only */
#define DMAP_ARM_PTE_SH_SHIFT 8 /* bits [9:8] */
#define DMAP_ARM_PTE_SH_MASK (3ull << 8)
#define DMAP_ARM_PTE_SH_NS (0ull << 8)
#define DMAP_ARM_PTE_SH_OS (2ull << 8)
#define DMAP_ARM_PTE_SH_IS (3ull << 8)
#define DMAP_ARM_PTE_AF (1ull << 10)
#define DMAP_ARM_PTE_NG (1ull << 11)
#define DMAP_ARM_PTE_DBM (1ull << 51)
#define DMAP_ARM_PTE_CONT (1ull << 52)
#define DMAP_ARM_PTE_PXN (1ull << 53)
#define DMAP_ARM_PTE_UXN (1ull << 54)
#define DMAP_ARM_PTE_XN (DMAP_ARM_PTE_PXN | DMAP_ARM_PTE_UXN)
/* Bits [58:55] are software-defined (ignored by the walker); dmap uses bit 55. */
#define DMAP_ARM_PTE_SW_SYNC (1ull << 55)
/* Output / next-level table address bits [47:12] (4K granule; [47:14] 16K, [47:16] 64K). */
#define DMAP_ARM_PTE_ADDR_MASK 0x0000fffffffff000ull

/* MAIR_EL1-format attributes dmap programs (same indices and values as Linux). */
#define DMAP_ARM_MAIR_IDX_NC 0 /* Normal, inner+outer Non-cacheable: 0x44 */
#define DMAP_ARM_MAIR_IDX_CACHE 1 /* Normal, inner+outer WB RW-allocate: 0xff */
#define DMAP_ARM_MAIR_IDX_DEV 2 /* Device-nGnRE: 0x04 */
#define DMAP_ARM_MAIR_IDX_INC_OCACHE 3 /* Inner NC, outer WB RW-allocate: 0xf4 */
#define DMAP_ARM_MAIR_ATTR_NC 0x44ull
#define DMAP_ARM_MAIR_ATTR_WBRWA 0xffull
#define DMAP_ARM_MAIR_ATTR_DEVICE 0x04ull
#define DMAP_ARM_MAIR_ATTR_INC_OWBRWA 0xf4ull
#define DMAP_ARM_MAIR_VALUE                                          \
	(DMAP_ARM_MAIR_ATTR_NC << (8 * DMAP_ARM_MAIR_IDX_NC) |       \
	 DMAP_ARM_MAIR_ATTR_WBRWA << (8 * DMAP_ARM_MAIR_IDX_CACHE) | \
	 DMAP_ARM_MAIR_ATTR_DEVICE << (8 * DMAP_ARM_MAIR_IDX_DEV) |  \
	 DMAP_ARM_MAIR_ATTR_INC_OWBRWA << (8 * DMAP_ARM_MAIR_IDX_INC_OCACHE))

/*
 * TCR_EL1 layout of the TTB0 fields (Arm ARM D19 TCR_EL1), as in dmap_pgtable_config.out.arm.tcr.
 */
#define DMAP_ARM_TCR_T0SZ_SHIFT 0 /* [5:0] = 64 - ias */
#define DMAP_ARM_TCR_IRGN0_SHIFT 8 /* [9:8] */
#define DMAP_ARM_TCR_ORGN0_SHIFT 10 /* [11:10] */
#define DMAP_ARM_TCR_SH0_SHIFT 12 /* [13:12] */
#define DMAP_ARM_TCR_TG0_SHIFT 14 /* [15:14] */
#define DMAP_ARM_TCR_IPS_SHIFT 32 /* [34:32] */
#define DMAP_ARM_TCR_RGN_NC 0u
#define DMAP_ARM_TCR_RGN_WBWA 1u
#define DMAP_ARM_TCR_RGN_WT 2u
#define DMAP_ARM_TCR_RGN_WB 3u
#define DMAP_ARM_TCR_SH_NS 0u
#define DMAP_ARM_TCR_SH_OS 2u
#define DMAP_ARM_TCR_SH_IS 3u
#define DMAP_ARM_TCR_TG0_4K 0u
#define DMAP_ARM_TCR_TG0_64K 1u
#define DMAP_ARM_TCR_TG0_16K 2u
/* IPS: 0 = 32, 1 = 36, 2 = 40, 3 = 42, 4 = 44, 5 = 48, 6 = 52 bits. */

/**
 * dmap_arm_ips_encode() - the IPS/PS encoding of an address size.
 * Returns 0..6 for 32/36/40/42/44/48/52 bits, or -EINVAL for any other value.
 */
int dmap_arm_ips_encode(unsigned int bits);
/** dmap_arm_ips_bits() - inverse of dmap_arm_ips_encode(); 0 for a reserved encoding. */
unsigned int dmap_arm_ips_bits(unsigned int ips);

/* ======================================================================
 * Arm SMMUv3 (IHI 0070): stream table entries (5.2), context descriptors
 * (5.4), commands (4.x), event records (7.3). Arrays of 64-bit words.
 * ====================================================================== */
#define DMAP_SMMU_STE_DWORDS 8
#define DMAP_SMMU_CD_DWORDS 8
#define DMAP_SMMU_CMD_DWORDS 2
#define DMAP_SMMU_EVT_DWORDS 4

/* STE.Config (5.2, bits [3:1] of word 0). */
#define DMAP_SMMU_STE_CFG_ABORT 0u /* 0b000: abort all (no event) */
#define DMAP_SMMU_STE_CFG_BYPASS 4u /* 0b100: S1 and S2 bypass */
#define DMAP_SMMU_STE_CFG_S1_TRANS 5u /* 0b101: S1 translate, S2 bypass */
#define DMAP_SMMU_STE_CFG_S2_TRANS 6u /* 0b110 */
#define DMAP_SMMU_STE_CFG_NESTED 7u /* 0b111 */
/* STE.S1Fmt */
#define DMAP_SMMU_STE_S1FMT_LINEAR 0u
#define DMAP_SMMU_STE_S1FMT_4K_L2 1u
#define DMAP_SMMU_STE_S1FMT_64K_L2 2u
/* STE.S1DSS */
#define DMAP_SMMU_STE_S1DSS_TERMINATE 0u
#define DMAP_SMMU_STE_S1DSS_BYPASS 1u
#define DMAP_SMMU_STE_S1DSS_SSID0 2u
/* STE.S1CIR/S1COR (cacheability of CD fetches) */
#define DMAP_SMMU_CACHE_NC 0u
#define DMAP_SMMU_CACHE_WBRA 1u
#define DMAP_SMMU_CACHE_WT 2u
#define DMAP_SMMU_CACHE_WB 3u
/* STE.STRW (StreamWorld) */
#define DMAP_SMMU_STE_STRW_NSEL1 0u
#define DMAP_SMMU_STE_STRW_EL2 2u
/* STE.SHCFG */
#define DMAP_SMMU_STE_SHCFG_NS 0u
#define DMAP_SMMU_STE_SHCFG_INCOMING 1u
#define DMAP_SMMU_STE_SHCFG_OS 2u
#define DMAP_SMMU_STE_SHCFG_IS 3u
/* STE.EATS */
#define DMAP_SMMU_STE_EATS_ABT 0u
#define DMAP_SMMU_STE_EATS_TRANS 1u

/**
 * struct dmap_smmu_ste - the fields of a stream table entry dmap uses
 * (IHI 0070 5.2). Stage-2 fields beyond S2VMID are not modelled: dmap never
 * programs stage 2; decode rejects an STE that uses them (Config S2/nested).
 * @valid: V, word 0 bit 0.
 * @config: Config, word 0 [3:1] (DMAP_SMMU_STE_CFG_*).
 * @s1_fmt: S1Fmt, word 0 [5:4].
 * @s1_context_ptr: S1ContextPtr, word 0 [51:6]: physical address of the CD
 *                  (table), 64-byte aligned.
 * @s1_cdmax: S1CDMax, word 0 [63:59]: log2 of the number of CDs (0: one, no SSIDs).
 * @s1dss: S1DSS, word 1 [1:0].
 * @s1cir: S1CIR, word 1 [3:2]. @s1cor: S1COR, word 1 [5:4]. @s1csh: S1CSH, word 1 [7:6].
 * @mev: MEV (merge events), word 1 bit 19.
 * @s1stalld: S1STALLD, word 1 bit 27.
 * @eats: EATS, word 1 [29:28].
 * @strw: STRW, word 1 [31:30].
 * @shcfg: SHCFG, word 1 [45:44].
 * @s2vmid: S2VMID, word 2 [15:0].
 */
struct dmap_smmu_ste {
	bool valid;
	unsigned int config;
	unsigned int s1_fmt;
	uint64_t s1_context_ptr;
	unsigned int s1_cdmax;
	unsigned int s1dss;
	unsigned int s1cir, s1cor, s1csh;
	bool mev;
	bool s1stalld;
	unsigned int eats;
	unsigned int strw;
	unsigned int shcfg;
	uint16_t s2vmid;
};

/**
 * dmap_smmu_ste_encode() - build the 64-byte STE.
 * Returns 0, or -EINVAL (NULL, a field wider than its bits, unaligned or
 * beyond-52-bit context pointer, a reserved Config/S1Fmt/STRW value, stage-2
 * configs); @out is then all zero (an invalid STE).
 */
int dmap_smmu_ste_encode(const struct dmap_smmu_ste *ste, uint64_t out[DMAP_SMMU_STE_DWORDS]);
/**
 * dmap_smmu_ste_decode() - the inverse. Returns 0, or -EINVAL for NULL or
 * bits set outside the fields above (what dmap cannot represent); *@ste is
 * filled either way.
 */
int dmap_smmu_ste_decode(const uint64_t in[DMAP_SMMU_STE_DWORDS], struct dmap_smmu_ste *ste);

/**
 * struct dmap_smmu_cd - context descriptor fields (IHI 0070 5.4), VMSAv8-64.
 * Word 0: @t0sz [5:0], @tg0 [7:6] (DMAP_ARM_TCR_TG0_*), @ir0 [9:8], @or0
 * [11:10], @sh0 [13:12], @epd0 bit 14, @endi bit 15, @epd1 bit 30, @valid
 * bit 31, @ips [34:32], @affd 35, @wxn 36, @uwxn 37, @tbi0 38, @aa64 41,
 * @hd 42, @ha 43, @s 44, @r 45, @a 46, @aset 47, @asid [63:48].
 * Word 1: @ttb0 [51:4] (16-byte aligned physical address). Word 3: @mair
 * (MAIR0 in [31:0], MAIR1 in [63:32], i.e. the 64-bit MAIR_EL1 value).
 * TTB1 (word 2), T1SZ/TG1/IR1/OR1/SH1 and AMAIR are not modelled: dmap sets
 * EPD1 and leaves them zero.
 */
struct dmap_smmu_cd {
	bool valid;
	unsigned int t0sz, tg0, ir0, or0, sh0;
	bool epd0, epd1, endi;
	unsigned int ips;
	bool affd, wxn, uwxn, tbi0, aa64, hd, ha, s, r, a, aset;
	uint16_t asid;
	uint64_t ttb0;
	uint64_t mair;
};

/** dmap_smmu_cd_encode() - build the 64-byte CD. 0 or -EINVAL (as dmap_smmu_ste_encode()). */
int dmap_smmu_cd_encode(const struct dmap_smmu_cd *cd, uint64_t out[DMAP_SMMU_CD_DWORDS]);
/** dmap_smmu_cd_decode() - the inverse; -EINVAL for NULL or bits outside the modelled fields. */
int dmap_smmu_cd_decode(const uint64_t in[DMAP_SMMU_CD_DWORDS], struct dmap_smmu_cd *cd);
/**
 * dmap_smmu_cd_from_tcr() - a valid AArch64 CD for a dmap ARM page table:
 * T0SZ/TG0/IR0/OR0/SH0/IPS from @tcr (TCR_EL1 layout, dmap_pgtable_config
 * out.arm.tcr), TTB0 @ttbr, MAIR @mair, ASID @asid; V, AA64, EPD1, R, A and
 * ASET set as Linux does for a private ASID; AFFD, HA, HD clear (dmap sets AF
 * itself). Returns 0 or -EINVAL (NULL).
 */
int dmap_smmu_cd_from_tcr(struct dmap_smmu_cd *cd, uint64_t tcr, uint64_t ttbr, uint64_t mair,
			  uint16_t asid);

/* Command opcodes (IHI 0070 4.1 .. 4.7). */
#define DMAP_SMMU_CMD_PREFETCH_CONFIG 0x01u
#define DMAP_SMMU_CMD_CFGI_STE 0x03u
#define DMAP_SMMU_CMD_CFGI_ALL 0x04u /* CFGI_STE_RANGE with Range = 31 */
#define DMAP_SMMU_CMD_CFGI_CD 0x05u
#define DMAP_SMMU_CMD_CFGI_CD_ALL 0x06u
#define DMAP_SMMU_CMD_TLBI_NH_ALL 0x10u
#define DMAP_SMMU_CMD_TLBI_NH_ASID 0x11u
#define DMAP_SMMU_CMD_TLBI_NH_VA 0x12u
#define DMAP_SMMU_CMD_TLBI_NH_VAA 0x13u
#define DMAP_SMMU_CMD_TLBI_EL2_ALL 0x20u
#define DMAP_SMMU_CMD_TLBI_S12_VMALL 0x28u
#define DMAP_SMMU_CMD_TLBI_NSNH_ALL 0x30u
#define DMAP_SMMU_CMD_SYNC 0x46u
/* CMD_SYNC.CS */
#define DMAP_SMMU_SYNC_CS_NONE 0u
#define DMAP_SMMU_SYNC_CS_IRQ 1u
#define DMAP_SMMU_SYNC_CS_SEV 2u

/**
 * struct dmap_smmu_cmd - one 16-byte command-queue entry; which fields count
 * depends on @opcode:
 *  - all: @opcode word 0 [7:0].
 *  - CFGI_STE / CFGI_CD / CFGI_CD_ALL / PREFETCH_CONFIG: @sid word 0 [63:32];
 *    CFGI_CD also @ssv word 0 bit 11 and @ssid [31:12]; CFGI_STE, CFGI_CD:
 *    @leaf word 1 bit 0.
 *  - CFGI_ALL: @range word 1 [4:0] (encode forces 31: "all StreamIDs").
 *  - TLBI_NH_ASID: @asid word 0 [63:48], @vmid [47:32].
 *  - TLBI_NH_VA / TLBI_NH_VAA: + @num [16:12], @scale [24:20] (range
 *    invalidation), word 1: @leaf bit 0, @ttl [9:8], @tg [11:10], @addr [63:12].
 *  - TLBI_NH_ALL / TLBI_S12_VMALL: @vmid. TLBI_NSNH_ALL, TLBI_EL2_ALL: nothing.
 *  - CMD_SYNC: @cs [13:12], @msh [23:22], @msiattr [27:24], @msidata
 *    [63:32]; word 1: @msiaddr [51:2].
 */
struct dmap_smmu_cmd {
	uint8_t opcode;
	bool ssv;
	uint32_t sid, ssid;
	bool leaf;
	uint8_t range;
	uint16_t asid, vmid;
	uint8_t num, scale, ttl, tg;
	uint64_t addr;
	unsigned int cs, msh, msiattr;
	uint32_t msidata;
	uint64_t msiaddr;
};

/**
 * dmap_smmu_cmd_encode() - build a command. Returns 0, or -EINVAL (NULL, an
 * opcode dmap does not know, a field too wide, an unaligned address);
 * @out is zeroed then.
 */
int dmap_smmu_cmd_encode(const struct dmap_smmu_cmd *cmd, uint64_t out[DMAP_SMMU_CMD_DWORDS]);
/** dmap_smmu_cmd_decode() - the inverse; -EINVAL for NULL, unknown opcode or stray bits. */
int dmap_smmu_cmd_decode(const uint64_t in[DMAP_SMMU_CMD_DWORDS], struct dmap_smmu_cmd *cmd);
/** dmap_smmu_cmd_name() - "CMD_SYNC", "TLBI_NH_VA", ...; "unknown" otherwise. */
const char *dmap_smmu_cmd_name(uint8_t opcode);

/* Event record types (IHI 0070 7.3). */
#define DMAP_SMMU_EVT_F_UUT 0x01u
#define DMAP_SMMU_EVT_C_BAD_STREAMID 0x02u
#define DMAP_SMMU_EVT_F_STE_FETCH 0x03u
#define DMAP_SMMU_EVT_C_BAD_STE 0x04u
#define DMAP_SMMU_EVT_F_BAD_ATS_TREQ 0x05u
#define DMAP_SMMU_EVT_F_STREAM_DISABLED 0x06u
#define DMAP_SMMU_EVT_F_TRANSL_FORBIDDEN 0x07u
#define DMAP_SMMU_EVT_C_BAD_SUBSTREAMID 0x08u
#define DMAP_SMMU_EVT_F_CD_FETCH 0x09u
#define DMAP_SMMU_EVT_C_BAD_CD 0x0au
#define DMAP_SMMU_EVT_F_WALK_EABT 0x0bu
#define DMAP_SMMU_EVT_F_TRANSLATION 0x10u
#define DMAP_SMMU_EVT_F_ADDR_SIZE 0x11u
#define DMAP_SMMU_EVT_F_ACCESS 0x12u
#define DMAP_SMMU_EVT_F_PERMISSION 0x13u
#define DMAP_SMMU_EVT_F_TLB_CONFLICT 0x20u
#define DMAP_SMMU_EVT_F_CFG_CONFLICT 0x21u
#define DMAP_SMMU_EVT_E_PAGE_REQUEST 0x24u
#define DMAP_SMMU_EVT_F_VMS_FETCH 0x25u
/* Event CLASS */
#define DMAP_SMMU_EVT_CLASS_CD 0u
#define DMAP_SMMU_EVT_CLASS_TT 1u
#define DMAP_SMMU_EVT_CLASS_IN 2u

/**
 * struct dmap_smmu_event - a 32-byte event record (IHI 0070 7.3).
 * Word 0 (all events): @id [7:0], @ssv bit 11, @ssid [31:12], @sid [63:32].
 * Translation-class faults (F_TRANSLATION, F_ADDR_SIZE, F_ACCESS,
 * F_PERMISSION, F_WALK_EABT, F_TRANSL_FORBIDDEN, F_UUT...): word 1 @stag
 * [15:0], @stall bit 31, @pnu bit 33 (1 = privileged), @ind bit 34 (1 =
 * instruction), @rnw bit 35 (1 = read), @s2 bit 39, @class [41:40]; word 2
 * @input_addr [63:0]; word 3 @ipa [51:12] (F_TRANSLATION..F_PERMISSION) or
 * @fetch_addr [51:3] (F_STE_FETCH, F_CD_FETCH, F_WALK_EABT, F_VMS_FETCH).
 * C_BAD_STE, C_BAD_CD, C_BAD_STREAMID, C_BAD_SUBSTREAMID: word 0 only.
 */
struct dmap_smmu_event {
	uint8_t id;
	bool ssv;
	uint32_t ssid;
	uint32_t sid;
	uint16_t stag;
	bool stall, pnu, ind, rnw, s2;
	unsigned int class_;
	uint64_t input_addr;
	uint64_t ipa;
	uint64_t fetch_addr;
};

/**
 * dmap_smmu_event_encode() - build an event record (what the SMMU writes to
 * its event queue). Fields that the event type does not define are not
 * written (RES0). Returns 0 or -EINVAL (NULL, field too wide).
 */
int dmap_smmu_event_encode(const struct dmap_smmu_event *ev, uint64_t out[DMAP_SMMU_EVT_DWORDS]);
/** dmap_smmu_event_decode() - the inverse for the fields the type defines. 0 or -EINVAL (NULL). */
int dmap_smmu_event_decode(const uint64_t in[DMAP_SMMU_EVT_DWORDS], struct dmap_smmu_event *ev);
/** dmap_smmu_event_name() - "F_TRANSLATION", ...; "unknown" for other ids. */
const char *dmap_smmu_event_name(uint8_t id);
/**
 * dmap_smmu_event_for_fault() - the event an SMMUv3 records for a dmap fault
 * reason: TRANSLATION 0x10, ADDR_SIZE 0x11, ACCESS_FLAG 0x12, PERMISSION
 * 0x13, BAD_CONFIG C_BAD_CD 0x0a; 0 where the SMMU records nothing (an abort
 * STE, a bus error behind a valid translation).
 */
uint8_t dmap_smmu_event_for_fault(enum dmap_fault_reason reason);

/* ======================================================================
 * Intel VT-d (Intel VT for Directed I/O spec; section numbers of rev 3.x): second-level
 * PTEs (9.8), root entries (9.1), legacy context entries (9.3), CCMD_REG
 * (10.4.7), IOTLB_REG/IVA_REG (10.4.8), queued-invalidation descriptors
 * (6.5.2), fault recording registers (10.4.14). 64-bit words, low first.
 * ====================================================================== */
#define DMAP_VTD_PTE_READ (1ull << 0)
#define DMAP_VTD_PTE_WRITE (1ull << 1)
#define DMAP_VTD_PTE_PS (1ull << 7) /* page size: 2 MiB / 1 GiB leaf at level 2 / 3 */
#define DMAP_VTD_PTE_SNP (1ull << 11) /* snoop; defined only with ECAP.SC */
#define DMAP_VTD_PTE_ADDR_MASK 0x000ffffffffff000ull /* bits [51:12], further limited by HAW */
/* Bits [61:52] and 63 are ignored by the unit; dmap keeps its software sync bit at 52. */
#define DMAP_VTD_PTE_SW_SYNC (1ull << 52)

/* Context entry Translation Type (legacy mode). */
#define DMAP_VTD_CONTEXT_TT_MULTI_LEVEL 0u /* 00: second-level translation, no device TLB */
#define DMAP_VTD_CONTEXT_TT_DEV_IOTLB 1u /* 01: ... with device TLB (ATS) */
#define DMAP_VTD_CONTEXT_TT_PASS_THROUGH 2u /* 10: pass-through */
/* Context entry AW (AGAW): 1 = 39-bit 3-level, 2 = 48-bit 4-level, 3 = 57-bit 5-level. */

/**
 * struct dmap_vtd_root_entry - legacy root entry (128 bits, 9.1).
 * @present: lo bit 0. @ctp: context-table pointer, lo [63:12] (4 KiB aligned).
 */
struct dmap_vtd_root_entry {
	bool present;
	uint64_t ctp;
};

int dmap_vtd_root_entry_encode(const struct dmap_vtd_root_entry *re, uint64_t out[2]);
int dmap_vtd_root_entry_decode(const uint64_t in[2], struct dmap_vtd_root_entry *re);

/**
 * struct dmap_vtd_context_entry - legacy context entry (128 bits, 9.3).
 * lo: @present bit 0, @fpd bit 1 (fault processing disable), @tt [3:2],
 * @slptptr [63:12]. hi: @aw [2:0], @did [23:8].
 */
struct dmap_vtd_context_entry {
	bool present;
	bool fpd;
	unsigned int tt;
	uint64_t slptptr;
	unsigned int aw;
	uint16_t did;
};

int dmap_vtd_context_entry_encode(const struct dmap_vtd_context_entry *ce, uint64_t out[2]);
int dmap_vtd_context_entry_decode(const uint64_t in[2], struct dmap_vtd_context_entry *ce);

/* Invalidation granularities (CCMD_REG.CIRG, IOTLB_REG.IIRG, descriptor G). */
#define DMAP_VTD_INV_GLOBAL 1u
#define DMAP_VTD_INV_DOMAIN 2u
#define DMAP_VTD_INV_DEVICE 3u /* context cache: device-selective */
#define DMAP_VTD_INV_PAGE 3u /* IOTLB: page-selective-within-domain */

/**
 * struct dmap_vtd_ccmd - Context Command Register (CCMD_REG, offset 0x28).
 * @icc bit 63, @cirg [62:61], @caig [60:59] (hardware-written), @fm [33:32]
 * (function mask), @sid [31:16], @did [15:0].
 */
struct dmap_vtd_ccmd {
	bool icc;
	unsigned int cirg, caig;
	unsigned int fm;
	uint16_t sid, did;
};

int dmap_vtd_ccmd_encode(const struct dmap_vtd_ccmd *c, uint64_t *out);
int dmap_vtd_ccmd_decode(uint64_t in, struct dmap_vtd_ccmd *c);

/**
 * struct dmap_vtd_iotlb_cmd - IOTLB Invalidate Register (IOTLB_REG at
 * ECAP.IRO*16 + 8) and Invalidate Address Register (IVA_REG at ECAP.IRO*16).
 * IOTLB_REG: @ivt bit 63, @iirg [61:60], @iaig [58:57], @dr bit 49, @dw bit
 * 48, @did [47:32]. IVA_REG: @addr [63:12], @ih bit 6, @am [5:0].
 */
struct dmap_vtd_iotlb_cmd {
	bool ivt;
	unsigned int iirg, iaig;
	bool dr, dw;
	uint16_t did;
	uint64_t addr;
	bool ih;
	unsigned int am;
};

int dmap_vtd_iotlb_cmd_encode(const struct dmap_vtd_iotlb_cmd *c, uint64_t *iotlb_reg,
			      uint64_t *iva_reg);
int dmap_vtd_iotlb_cmd_decode(uint64_t iotlb_reg, uint64_t iva_reg, struct dmap_vtd_iotlb_cmd *c);

/* Queued-invalidation descriptor types (6.5.2). */
#define DMAP_VTD_QI_CC 0x1u /* context-cache invalidate */
#define DMAP_VTD_QI_IOTLB 0x2u /* IOTLB invalidate */
#define DMAP_VTD_QI_DEV_IOTLB 0x3u
#define DMAP_VTD_QI_IEC 0x4u
#define DMAP_VTD_QI_WAIT 0x5u /* invalidation wait */

/**
 * struct dmap_vtd_inv_desc - a 128-bit queued-invalidation descriptor.
 * All: @type lo [3:0].
 * Context-cache (0x1): @granularity lo [5:4], @did [31:16], @sid [47:32], @fm [49:48].
 * IOTLB (0x2): @granularity lo [5:4], @dw bit 6, @dr bit 7, @did [31:16];
 *   hi: @am [5:0], @ih bit 6, @addr [63:12].
 * Invalidation wait (0x5): lo @iflag bit 4 (IF), @sw bit 5 (status write),
 *   @fn bit 6 (fence), @pd bit 7 (page-request drain), @status_data
 *   [63:32]; hi: @status_addr [63:2] (4-byte aligned).
 */
struct dmap_vtd_inv_desc {
	unsigned int type;
	unsigned int granularity;
	uint16_t did, sid;
	unsigned int fm;
	bool dr, dw, ih;
	unsigned int am;
	uint64_t addr;
	bool iflag, sw, fn, pd;
	uint32_t status_data;
	uint64_t status_addr;
};

int dmap_vtd_inv_desc_encode(const struct dmap_vtd_inv_desc *d, uint64_t out[2]);
int dmap_vtd_inv_desc_decode(const uint64_t in[2], struct dmap_vtd_inv_desc *d);

/* Fault reasons (VT-d spec 7.1.3 / appendix A; legacy). */
#define DMAP_VTD_FR_ROOT_NOT_PRESENT 0x1u
#define DMAP_VTD_FR_CONTEXT_NOT_PRESENT 0x2u
#define DMAP_VTD_FR_CONTEXT_INVALID 0x3u
#define DMAP_VTD_FR_BEYOND_MGAW 0x4u
#define DMAP_VTD_FR_WRITE 0x5u /* PTE write access is not set */
#define DMAP_VTD_FR_READ 0x6u /* PTE read access is not set */
#define DMAP_VTD_FR_PTE_ACCESS 0x7u /* next page-table pointer invalid */
#define DMAP_VTD_FR_ROOT_TABLE 0x8u
#define DMAP_VTD_FR_CONTEXT_TABLE 0x9u
#define DMAP_VTD_FR_ROOT_RSVD 0xau
#define DMAP_VTD_FR_CONTEXT_RSVD 0xbu
#define DMAP_VTD_FR_PTE_RSVD 0xcu
#define DMAP_VTD_FR_TT_BLOCKED 0xdu

/**
 * struct dmap_vtd_fault_record - a 128-bit fault recording register (10.4.14).
 * lo: @fault_info [63:12] (page address of the faulting request).
 * hi: @sid [15:0], @t2 bit 28, @priv bit 29, @exe bit 30, @pasid_present bit
 * 31, @reason [39:32], @pasid [59:40], @at [61:60], @type bit 62 (T1: 1 =
 * read, 0 = write), @fault bit 63 (F).
 */
struct dmap_vtd_fault_record {
	uint64_t fault_info;
	uint16_t sid;
	bool t2, priv, exe, pasid_present;
	uint8_t reason;
	uint32_t pasid;
	unsigned int at;
	unsigned int type;
	bool fault;
};

int dmap_vtd_fault_record_encode(const struct dmap_vtd_fault_record *f, uint64_t out[2]);
int dmap_vtd_fault_record_decode(const uint64_t in[2], struct dmap_vtd_fault_record *f);
/**
 * dmap_vtd_fault_reason_for() - the VT-d fault reason for a dmap fault of an
 * access with DMAP_ACCESS_* bits @access: a non-present or too-weak PTE is
 * 0x5 for writes and 0x6 for reads (VT-d has no separate "not mapped"
 * reason), ADDR_SIZE 0x4, BAD_CONFIG 0x3, NOT_ATTACHED 0x2; 0 otherwise.
 */
uint8_t dmap_vtd_fault_reason_for(enum dmap_fault_reason reason, unsigned int access);
/** dmap_vtd_fault_reason_name() - Linux's wording ("PTE Write access is not set", ...). */
const char *dmap_vtd_fault_reason_name(uint8_t reason);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_IOMMU_HW_H */
