#include <errno.h>
#include <stdio.h>

#include "jsonout.h"

int jsonout_print(json_t *obj)
{
	int ret;

	if (!obj)
		return -ENOMEM;
	ret = json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(obj);
	if (ret || fputc('\n', stdout) == EOF || fflush(stdout))
		return -EIO;
	return 0;
}
