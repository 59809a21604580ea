/* jsonout: the one-line JSON object a command prints on stdout with --json
 * (human text goes to stderr), shared by every binary. */
#ifndef FAASNET_JSONOUT_H
#define FAASNET_JSONOUT_H

#include <jansson.h>

/* Prints obj compactly on one line of stdout and releases it. 0 or -EIO
 * (-ENOMEM when obj is NULL, as a failed json_pack gives). */
int jsonout_print(json_t *obj);

#endif
