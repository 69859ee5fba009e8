/* The shipped conf.d fragments compiled into mccd: the base layer of every configuration. */
#ifndef MCC_CONF_EMBEDDED_H
#define MCC_CONF_EMBEDDED_H

struct mcc_embedded_fragment {
    const char *name; /* file name in conf.d, e.g. "00-defaults.json" */
    const char *text;
};

/* terminated by an entry whose name is NULL */
extern const struct mcc_embedded_fragment mcc_embedded_conf[];

#endif
