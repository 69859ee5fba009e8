/* The whole plugin SDK in one include. */
#ifndef MCC_MCC_H
#define MCC_MCC_H

#include <mcc/plugin.h>
#include <mcc/host.h>
#include <mcc/exporter.h>
#include <mcc/hosts.h>
#include <mcc/policy.h>
#include <mcc/storage.h>
#include <mcc/upstream.h>
#include <mcc/hostport.h>

#endif
