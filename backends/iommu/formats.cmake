# SPDX-License-Identifier: MIT
# Page-table formats and hardware-structure encoders (included by CMakeLists.txt here).
dmap_add_sources(FREESTANDING pgtable.c pgtable_arm_lpae.c pgtable_vtd.c smmuv3_hw.c vtd_hw.c)
