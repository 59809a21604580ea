#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lie.h"

static const char *const names[LIE_MAX] = {
	[LIE_NONE] = "none", [LIE_CORRUPT] = "corrupt", [LIE_FAKE] = "fake",
	[LIE_SLOW] = "slow", [LIE_SILENT] = "silent",
};

int lie_parse(const char *s, enum lie_mode *out)
{
	char *end;
	long v;
	int i;

	for (i = 0; i < LIE_MAX; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum lie_mode)i;
			return 0;
		}
	v = strtol(s, &end, 10);
	if (end == s || *end || v < 0 || v >= LIE_MAX)
		return -EINVAL;
	*out = (enum lie_mode)v;
	return 0;
}

const char *lie_name(int mode)
{
	return mode >= 0 && mode < LIE_MAX ? names[mode] : "?";
}
