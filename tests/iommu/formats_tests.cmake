# SPDX-License-Identifier: MIT
# Page-table format and hardware-structure tests (included by CMakeLists.txt here).
# They include backends/iommu/pgtable.h, the formats' internal interface.
dmap_add_test(test_pgtable_arm test_pgtable_arm.c test_pgtable_common.c TIMEOUT 120)
dmap_add_test(test_pgtable_vtd test_pgtable_vtd.c test_pgtable_common.c TIMEOUT 120)
dmap_add_test(test_pgtable_stress test_pgtable_stress.c test_pgtable_common.c TIMEOUT 120)
dmap_add_test(test_hw_golden test_hw_golden.c)
foreach(t test_pgtable_arm test_pgtable_vtd test_pgtable_stress test_hw_golden)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/backends/iommu)
endforeach()
