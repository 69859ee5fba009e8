/* Test plugin: a valid shared object that exports no mcc_plugin_v1. */
#include <mcc/plugin.h>

MCC_EXPORT int mcc_plugin_v0(void);
MCC_EXPORT int mcc_plugin_v0(void)
{
    return 0;
}
