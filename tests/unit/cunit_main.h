/* Each unit test program defines mcc_test_register(): add its suites, return 0 on success. */
#ifndef MCC_CUNIT_MAIN_H
#define MCC_CUNIT_MAIN_H

#include <CUnit/CUnit.h>

int mcc_test_register(void);

/* Adds suite NAME with the NULL-terminated test array. */
static inline int mcc_test_suite(const char *name, const CU_TestInfo *tests)
{
    CU_SuiteInfo suites[] = {{name, NULL, NULL, NULL, NULL, (CU_TestInfo *)tests}, CU_SUITE_INFO_NULL};
    return CU_register_suites(suites) == CUE_SUCCESS ? 0 : -1;
}

#endif
