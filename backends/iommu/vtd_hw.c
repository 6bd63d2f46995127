/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/vtd_hw.c - encoders and decoders for Intel VT-d structures
 * and register values: legacy root and context entries, the context-command
 * and IOTLB-invalidate registers, queued-invalidation descriptors and fault
 * recording registers.
 *
 * Same approach as smmuv3_hw.c: one (word, high bit, low bit) description
 * per field serves both directions; encode refuses values that do not fit
 * (a truncated domain id or table pointer misprograms the unit silently);
 * decode returns -EINVAL when bits outside the modelled fields are set,
 * which for VT-d is exactly "reserved field non-zero" (fault reasons 0xA,
 * 0xB, or an invalidation-queue error).
 */
#include <dmap/dmap.h>
#include <dmap/helpers.h>
#include <dmap/iommu_hw.h>

#include "hw_field.h"

static bool only_known(const uint64_t *in, size_t words, const struct hw_field *const *fields,
		       size_t n)
{
	uint64_t known[2] = { 0, 0 };

	for (size_t i = 0; i < n; i++)
		known[fields[i]->word] |= field_mask(*fields[i]);
	for (size_t i = 0; i < words; i++)
		if (in[i] & ~known[i])
			return false;
	return true;
}

/* ---- root entry (9.1) --------------------------------------------------- */

static const struct hw_field RE_P = { 0, 0, 0 };
static const struct hw_field RE_CTP = { 0, 63, 12 };

int dmap_vtd_root_entry_encode(const struct dmap_vtd_root_entry *re, uint64_t out[2])
{
	if (!out)
		return -DMAP_EINVAL;
	out[0] = out[1] = 0;
	if (!re || !put(out, RE_P, re->present) || !put_addr(out, RE_CTP, re->ctp)) {
		out[0] = out[1] = 0;
		return -DMAP_EINVAL;
	}
	return 0;
}

int dmap_vtd_root_entry_decode(const uint64_t in[2], struct dmap_vtd_root_entry *re)
{
	static const struct hw_field *const fields[] = { &RE_P, &RE_CTP };

	if (!in || !re)
		return -DMAP_EINVAL;
	dmap_memset(re, 0, sizeof(*re));
	re->present = get(in, RE_P);
	re->ctp = get_addr(in, RE_CTP);
	return only_known(in, 2, fields, DMAP_ARRAY_SIZE(fields)) ? 0 : -DMAP_EINVAL;
}

/* ---- legacy context entry (9.3) ----------------------------------------- */

static const struct hw_field CE_P = { 0, 0, 0 };
static const struct hw_field CE_FPD = { 0, 1, 1 };
static const struct hw_field CE_TT = { 0, 3, 2 };
static const struct hw_field CE_SLPTPTR = { 0, 63, 12 };
static const struct hw_field CE_AW = { 1, 2, 0 };
static const struct hw_field CE_DID = { 1, 23, 8 };

int dmap_vtd_context_entry_encode(const struct dmap_vtd_context_entry *ce, uint64_t out[2])
{
	bool ok;

	if (!out)
		return -DMAP_EINVAL;
	out[0] = out[1] = 0;
	if (!ce)
		return -DMAP_EINVAL;
	/* TT 11 is reserved; AW values 0 (30-bit 2-level) and 4..7 are reserved. */
	ok = ce->tt != 3 && (ce->aw >= 1 && ce->aw <= 3);
	ok = ok && put(out, CE_P, ce->present) && put(out, CE_FPD, ce->fpd) &&
	     put(out, CE_TT, ce->tt) && put_addr(out, CE_SLPTPTR, ce->slptptr) &&
	     put(out, CE_AW, ce->aw) && put(out, CE_DID, ce->did);
	if (!ok) {
		out[0] = out[1] = 0;
		return -DMAP_EINVAL;
	}
	return 0;
}

int dmap_vtd_context_entry_decode(const uint64_t in[2], struct dmap_vtd_context_entry *ce)
{
	static const struct hw_field *const fields[] = { &CE_P,	      &CE_FPD, &CE_TT,
							 &CE_SLPTPTR, &CE_AW,  &CE_DID };

	if (!in || !ce)
		return -DMAP_EINVAL;
	dmap_memset(ce, 0, sizeof(*ce));
	ce->present = get(in, CE_P);
	ce->fpd = get(in, CE_FPD);
	ce->tt = (unsigned int)get(in, CE_TT);
	ce->slptptr = get_addr(in, CE_SLPTPTR);
	ce->aw = (unsigned int)get(in, CE_AW);
	ce->did = (uint16_t)get(in, CE_DID);
	return only_known(in, 2, fields, DMAP_ARRAY_SIZE(fields)) ? 0 : -DMAP_EINVAL;
}

/* ---- CCMD_REG (10.4.7) ------------------------------------------------ */

static const struct hw_field CC_DID = { 0, 15, 0 };
static const struct hw_field CC_SID = { 0, 31, 16 };
static const struct hw_field CC_FM = { 0, 33, 32 };
static const struct hw_field CC_CAIG = { 0, 60, 59 };
static const struct hw_field CC_CIRG = { 0, 62, 61 };
static const struct hw_field CC_ICC = { 0, 63, 63 };

int dmap_vtd_ccmd_encode(const struct dmap_vtd_ccmd *c, uint64_t *out)
{
	uint64_t v[1] = { 0 };

	if (!out)
		return -DMAP_EINVAL;
	*out = 0;
	if (!c || !c->cirg || !put(v, CC_DID, c->did) || !put(v, CC_SID, c->sid) ||
	    !put(v, CC_FM, c->fm) || !put(v, CC_CAIG, c->caig) || !put(v, CC_CIRG, c->cirg) ||
	    !put(v, CC_ICC, c->icc))
		return -DMAP_EINVAL;
	*out = v[0];
	return 0;
}

int dmap_vtd_ccmd_decode(uint64_t in, struct dmap_vtd_ccmd *c)
{
	static const struct hw_field *const fields[] = { &CC_DID,  &CC_SID,  &CC_FM,
							 &CC_CAIG, &CC_CIRG, &CC_ICC };
	uint64_t v[1] = { in };

	if (!c)
		return -DMAP_EINVAL;
	dmap_memset(c, 0, sizeof(*c));
	c->did = (uint16_t)get(v, CC_DID);
	c->sid = (uint16_t)get(v, CC_SID);
	c->fm = (unsigned int)get(v, CC_FM);
	c->caig = (unsigned int)get(v, CC_CAIG);
	c->cirg = (unsigned int)get(v, CC_CIRG);
	c->icc = get(v, CC_ICC);
	return only_known(v, 1, fields, DMAP_ARRAY_SIZE(fields)) ? 0 : -DMAP_EINVAL;
}

/* ---- IOTLB_REG / IVA_REG (10.4.8) --------------------------------------- */

static const struct hw_field IT_DID = { 0, 47, 32 };
static const struct hw_field IT_DW = { 0, 48, 48 };
static const struct hw_field IT_DR = { 0, 49, 49 };
static const struct hw_field IT_IAIG = { 0, 58, 57 };
static const struct hw_field IT_IIRG = { 0, 61, 60 };
static const struct hw_field IT_IVT = { 0, 63, 63 };
static const struct hw_field IVA_AM = { 1, 5, 0 };
static const struct hw_field IVA_IH = { 1, 6, 6 };
static const struct hw_field IVA_ADDR = { 1, 63, 12 };

int dmap_vtd_iotlb_cmd_encode(const struct dmap_vtd_iotlb_cmd *c, uint64_t *iotlb_reg,
			      uint64_t *iva_reg)
{
	uint64_t v[2] = { 0, 0 };
	bool ok;

	if (!iotlb_reg || !iva_reg)
		return -DMAP_EINVAL;
	*iotlb_reg = *iva_reg = 0;
	if (!c || !c->iirg)
		return -DMAP_EINVAL;
	ok = put(v, IT_DID, c->did) && put(v, IT_DW, c->dw) && put(v, IT_DR, c->dr) &&
	     put(v, IT_IAIG, c->iaig) && put(v, IT_IIRG, c->iirg) && put(v, IT_IVT, c->ivt);
	/* The address register only matters for page-selective invalidation. */
	if (ok && c->iirg == DMAP_VTD_INV_PAGE)
		ok = put(v, IVA_AM, c->am) && put(v, IVA_IH, c->ih) &&
		     put_addr(v, IVA_ADDR, c->addr) &&
		     dmap_is_aligned(c->addr, (uint64_t)4096 << c->am);
	if (!ok)
		return -DMAP_EINVAL;
	*iotlb_reg = v[0];
	*iva_reg = v[1];
	return 0;
}

int dmap_vtd_iotlb_cmd_decode(uint64_t iotlb_reg, uint64_t iva_reg, struct dmap_vtd_iotlb_cmd *c)
{
	static const struct hw_field *const fields[] = { &IT_DID,  &IT_DW,   &IT_DR,
							 &IT_IAIG, &IT_IIRG, &IT_IVT,
							 &IVA_AM,  &IVA_IH,  &IVA_ADDR };
	uint64_t v[2] = { iotlb_reg, iva_reg };

	if (!c)
		return -DMAP_EINVAL;
	dmap_memset(c, 0, sizeof(*c));
	c->did = (uint16_t)get(v, IT_DID);
	c->dw = get(v, IT_DW);
	c->dr = get(v, IT_DR);
	c->iaig = (unsigned int)get(v, IT_IAIG);
	c->iirg = (unsigned int)get(v, IT_IIRG);
	c->ivt = get(v, IT_IVT);
	/* IVA_REG is defined only for page-selective invalidation (as encoded). */
	if (c->iirg == DMAP_VTD_INV_PAGE) {
		c->am = (unsigned int)get(v, IVA_AM);
		c->ih = get(v, IVA_IH);
		c->addr = get_addr(v, IVA_ADDR);
	}
	return only_known(v, 2, fields, DMAP_ARRAY_SIZE(fields)) ? 0 : -DMAP_EINVAL;
}

/* ---- queued-invalidation descriptors (6.5.2) ---------------------------- */

static const struct hw_field QI_TYPE = { 0, 3, 0 };
static const struct hw_field QI_G = { 0, 5, 4 };
static const struct hw_field QI_CC_DID = { 0, 31, 16 };
static const struct hw_field QI_CC_SID = { 0, 47, 32 };
static const struct hw_field QI_CC_FM = { 0, 49, 48 };
static const struct hw_field QI_IOTLB_DW = { 0, 6, 6 };
static const struct hw_field QI_IOTLB_DR = { 0, 7, 7 };
static const struct hw_field QI_IOTLB_DID = { 0, 31, 16 };
static const struct hw_field QI_IOTLB_AM = { 1, 5, 0 };
static const struct hw_field QI_IOTLB_IH = { 1, 6, 6 };
static const struct hw_field QI_IOTLB_ADDR = { 1, 63, 12 };
static const struct hw_field QI_WAIT_IF = { 0, 4, 4 };
static const struct hw_field QI_WAIT_SW = { 0, 5, 5 };
static const struct hw_field QI_WAIT_FN = { 0, 6, 6 };
static const struct hw_field QI_WAIT_PD = { 0, 7, 7 };
static const struct hw_field QI_WAIT_DATA = { 0, 63, 32 };
static const struct hw_field QI_WAIT_ADDR = { 1, 63, 2 };

int dmap_vtd_inv_desc_encode(const struct dmap_vtd_inv_desc *d, uint64_t out[2])
{
	bool ok;

	if (!out)
		return -DMAP_EINVAL;
	out[0] = out[1] = 0;
	if (!d)
		return -DMAP_EINVAL;
	ok = put(out, QI_TYPE, d->type);
	switch (d->type) {
	case DMAP_VTD_QI_CC:
		ok = ok && d->granularity && put(out, QI_G, d->granularity) &&
		     put(out, QI_CC_DID, d->did) && put(out, QI_CC_SID, d->sid) &&
		     put(out, QI_CC_FM, d->fm);
		break;
	case DMAP_VTD_QI_IOTLB:
		ok = ok && d->granularity && put(out, QI_G, d->granularity) &&
		     put(out, QI_IOTLB_DW, d->dw) && put(out, QI_IOTLB_DR, d->dr) &&
		     put(out, QI_IOTLB_DID, d->did);
		if (ok && d->granularity == DMAP_VTD_INV_PAGE)
			ok = put(out, QI_IOTLB_AM, d->am) && put(out, QI_IOTLB_IH, d->ih) &&
			     put_addr(out, QI_IOTLB_ADDR, d->addr) &&
			     dmap_is_aligned(d->addr, (uint64_t)4096 << d->am);
		break;
	case DMAP_VTD_QI_WAIT:
		ok = ok && put(out, QI_WAIT_IF, d->iflag) && put(out, QI_WAIT_SW, d->sw) &&
		     put(out, QI_WAIT_FN, d->fn) && put(out, QI_WAIT_PD, d->pd) &&
		     put(out, QI_WAIT_DATA, d->sw ? d->status_data : 0) &&
		     put_addr(out, QI_WAIT_ADDR, d->sw ? d->status_addr : 0);
		break;
	default:
		ok = false;
	}
	if (!ok) {
		out[0] = out[1] = 0;
		return -DMAP_EINVAL;
	}
	return 0;
}

int dmap_vtd_inv_desc_decode(const uint64_t in[2], struct dmap_vtd_inv_desc *d)
{
	static const struct hw_field *const cc[] = { &QI_TYPE, &QI_G, &QI_CC_DID, &QI_CC_SID,
						     &QI_CC_FM };
	static const struct hw_field *const iotlb[] = { &QI_TYPE,     &QI_G,	     &QI_IOTLB_DW,
							&QI_IOTLB_DR, &QI_IOTLB_DID, &QI_IOTLB_AM,
							&QI_IOTLB_IH, &QI_IOTLB_ADDR };
	static const struct hw_field *const wait[] = { &QI_TYPE,     &QI_WAIT_IF, &QI_WAIT_SW,
						       &QI_WAIT_FN,  &QI_WAIT_PD, &QI_WAIT_DATA,
						       &QI_WAIT_ADDR };

	if (!in || !d)
		return -DMAP_EINVAL;
	dmap_memset(d, 0, sizeof(*d));
	d->type = (unsigned int)get(in, QI_TYPE);
	switch (d->type) {
	case DMAP_VTD_QI_CC:
		d->granularity = (unsigned int)get(in, QI_G);
		d->did = (uint16_t)get(in, QI_CC_DID);
		d->sid = (uint16_t)get(in, QI_CC_SID);
		d->fm = (unsigned int)get(in, QI_CC_FM);
		return only_known(in, 2, cc, DMAP_ARRAY_SIZE(cc)) ? 0 : -DMAP_EINVAL;
	case DMAP_VTD_QI_IOTLB:
		d->granularity = (unsigned int)get(in, QI_G);
		d->dw = get(in, QI_IOTLB_DW);
		d->dr = get(in, QI_IOTLB_DR);
		d->did = (uint16_t)get(in, QI_IOTLB_DID);
		/* AM, IH and ADDR are defined only for page-selective invalidation. */
		if (d->granularity == DMAP_VTD_INV_PAGE) {
			d->am = (unsigned int)get(in, QI_IOTLB_AM);
			d->ih = get(in, QI_IOTLB_IH);
			d->addr = get_addr(in, QI_IOTLB_ADDR);
		}
		return only_known(in, 2, iotlb, DMAP_ARRAY_SIZE(iotlb)) ? 0 : -DMAP_EINVAL;
	case DMAP_VTD_QI_WAIT:
		d->iflag = get(in, QI_WAIT_IF);
		d->sw = get(in, QI_WAIT_SW);
		d->fn = get(in, QI_WAIT_FN);
		d->pd = get(in, QI_WAIT_PD);
		/* Status data and address are defined only with SW (as encoded). */
		if (d->sw) {
			d->status_data = (uint32_t)get(in, QI_WAIT_DATA);
			d->status_addr = get_addr(in, QI_WAIT_ADDR);
		}
		return only_known(in, 2, wait, DMAP_ARRAY_SIZE(wait)) ? 0 : -DMAP_EINVAL;
	}
	return -DMAP_EINVAL;
}

/* ---- fault recording register (10.4.14) --------------------------------- */

static const struct hw_field FR_FI = { 0, 63, 12 };
static const struct hw_field FR_SID = { 1, 15, 0 };
static const struct hw_field FR_T2 = { 1, 28, 28 };
static const struct hw_field FR_PRIV = { 1, 29, 29 };
static const struct hw_field FR_EXE = { 1, 30, 30 };
static const struct hw_field FR_PP = { 1, 31, 31 };
static const struct hw_field FR_FR = { 1, 39, 32 };
static const struct hw_field FR_PV = { 1, 59, 40 };
static const struct hw_field FR_AT = { 1, 61, 60 };
static const struct hw_field FR_T1 = { 1, 62, 62 };
static const struct hw_field FR_F = { 1, 63, 63 };

int dmap_vtd_fault_record_encode(const struct dmap_vtd_fault_record *f, uint64_t out[2])
{
	bool ok;

	if (!out)
		return -DMAP_EINVAL;
	out[0] = out[1] = 0;
	if (!f)
		return -DMAP_EINVAL;
	ok = put_addr(out, FR_FI, f->fault_info & ~(uint64_t)0xfff) && put(out, FR_SID, f->sid) &&
	     put(out, FR_T2, f->t2) && put(out, FR_PRIV, f->priv) && put(out, FR_EXE, f->exe) &&
	     put(out, FR_PP, f->pasid_present) && put(out, FR_FR, f->reason) &&
	     put(out, FR_PV, f->pasid_present ? f->pasid : 0) && put(out, FR_AT, f->at) &&
	     put(out, FR_T1, f->type) && put(out, FR_F, f->fault);
	if (!ok) {
		out[0] = out[1] = 0;
		return -DMAP_EINVAL;
	}
	return 0;
}

int dmap_vtd_fault_record_decode(const uint64_t in[2], struct dmap_vtd_fault_record *f)
{
	static const struct hw_field *const fields[] = { &FR_FI,  &FR_SID, &FR_T2, &FR_PRIV,
							 &FR_EXE, &FR_PP,  &FR_FR, &FR_PV,
							 &FR_AT,  &FR_T1,  &FR_F };

	if (!in || !f)
		return -DMAP_EINVAL;
	dmap_memset(f, 0, sizeof(*f));
	f->fault_info = get_addr(in, FR_FI);
	f->sid = (uint16_t)get(in, FR_SID);
	f->t2 = get(in, FR_T2);
	f->priv = get(in, FR_PRIV);
	f->exe = get(in, FR_EXE);
	f->pasid_present = get(in, FR_PP);
	f->reason = (uint8_t)get(in, FR_FR);
	/* PV is defined only with PP (as encoded). */
	f->pasid = f->pasid_present ? (uint32_t)get(in, FR_PV) : 0;
	f->at = (unsigned int)get(in, FR_AT);
	f->type = (unsigned int)get(in, FR_T1);
	f->fault = get(in, FR_F);
	return only_known(in, 2, fields, DMAP_ARRAY_SIZE(fields)) ? 0 : -DMAP_EINVAL;
}

const char *dmap_vtd_fault_reason_name(uint8_t reason)
{
	static const char *const names[] = {
		"Software",
		"Present bit in root entry is clear",
		"Present bit in context entry is clear",
		"Invalid context entry",
		"Access beyond MGAW",
		"PTE Write access is not set",
		"PTE Read access is not set",
		"Next page table ptr is invalid",
		"Root table address invalid",
		"Context table ptr is invalid",
		"non-zero reserved fields in RTP",
		"non-zero reserved fields in CTP",
		"non-zero reserved fields in PTE",
		"PCE for translation request specifies blocking",
	};

	return reason < DMAP_ARRAY_SIZE(names) ? names[reason] : "Unknown";
}

uint8_t dmap_vtd_fault_reason_for(enum dmap_fault_reason reason, unsigned int access)
{
	switch (reason) {
	case DMAP_FAULT_TRANSLATION:
	case DMAP_FAULT_PERMISSION:
	case DMAP_FAULT_ACCESS_FLAG:
		return (access & DMAP_ACCESS_WRITE) ? DMAP_VTD_FR_WRITE : DMAP_VTD_FR_READ;
	case DMAP_FAULT_ADDR_SIZE:
		return DMAP_VTD_FR_BEYOND_MGAW;
	case DMAP_FAULT_BAD_CONFIG:
		return DMAP_VTD_FR_CONTEXT_INVALID;
	case DMAP_FAULT_NOT_ATTACHED:
		return DMAP_VTD_FR_CONTEXT_NOT_PRESENT;
	case DMAP_FAULT_NO_MEMORY:
		break;
	}
	return 0;
}
